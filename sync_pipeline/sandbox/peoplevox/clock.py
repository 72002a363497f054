"""The warehouse's own clock: it moves only when told, so tests advance time deterministically.

The demo runs a ticker (see `ticker.py`) that advances it by `time_scale` simulated seconds per
real second. Sessions and the request limiter do NOT use this clock: they run on real time,
because a client's idle time and request rate are real.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated UTC time, starting at a whole second so formatted dates are stable."""

    def __init__(self, start: datetime | None = None) -> None:
        base = start or datetime.now(UTC)
        self._now = base.replace(microsecond=0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            if moment < self._now:
                raise ValueError("the warehouse clock never goes backwards")
            self._now = moment

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now
