"""A leaky bucket of query-cost points, refilled continuously at the plan's restore rate."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LeakyBucket:
    def __init__(self, size: float, restore_rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.restore_rate = restore_rate
        self._clock = clock
        self._available = size
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._available = min(self.size, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    def available(self) -> float:
        with self._lock:
            self._refill()
            return self._available

    def try_take(self, cost: float) -> bool:
        """Take `cost` points if the bucket holds them all; otherwise take nothing."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.size, self._available + max(0.0, points))

    def reset(self, size: float | None = None, restore_rate: float | None = None) -> None:
        with self._lock:
            self.size = size if size is not None else self.size
            self.restore_rate = restore_rate if restore_rate is not None else self.restore_rate
            self._available = self.size
            self._stamp = self._clock()

    def drain(self) -> None:
        """Empty the bucket: the next calls are THROTTLED until it refills (a fault to rehearse)."""
        with self._lock:
            self._available = 0.0
            self._stamp = self._clock()

    def throttle_status(self) -> dict[str, float]:
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.size),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            }
