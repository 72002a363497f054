"""Client-side pacing that matches the service's sliding-window limiter.

A slot is held from the moment a request starts until its answer arrives, and only frees a
full window after that answer. The server counts a request when it arrives, which is always
between the two, so requests paced this way can never exceed the server's window even with
network jitter. Share one pacer between clients of the same tenant.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RequestPacer:
    def __init__(
        self,
        requests_per_window: int,
        window_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_window < 1 or window_seconds <= 0:
            raise ValueError("the limiter needs at least one request per positive window")
        self.limit = requests_per_window
        self.window = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._slots: list[list[float]] = []  # [finished_at]; +inf while in flight
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> list[float]:
        """Wait for a free slot; pass the returned token to `release` when the answer is in."""
        while True:
            with self._lock:
                now = self._clock()
                self._slots = [s for s in self._slots if now - s[0] < self.window]
                if len(self._slots) < self.limit:
                    slot = [float("inf")]
                    self._slots.append(slot)
                    return slot
                oldest = min(s[0] for s in self._slots)
                wait = 0.05 if oldest == float("inf") else oldest + self.window - now
            wait = max(wait, 0.001)
            self.waited += wait
            self._sleep(wait)

    def release(self, slot: list[float]) -> None:
        with self._lock:
            slot[0] = self._clock()

    def back_off(self, seconds: float) -> None:
        """The server refused anyway (another client shares the budget): hold every slot."""
        with self._lock:
            until = self._clock() + seconds - self.window
            for slot in self._slots:
                slot[0] = max(slot[0], until) if slot[0] != float("inf") else slot[0]
            while len(self._slots) < self.limit:
                self._slots.append([until])
