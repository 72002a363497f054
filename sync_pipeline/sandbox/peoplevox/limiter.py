"""The request limiter: at most N requests per sliding window of W seconds, per client id.

Assumed shape (API.md §11 gives only the rate): a refused request is answered with HTTP 200,
ResponseId -1, TotalCount 0 and Detail starting with ``LIMIT_DETAIL_PREFIX``, followed by
how long to wait. Nothing of a refused request is processed. A sliding window is the stricter
choice (a fixed window would allow 2N requests around its edge); refused requests do not
consume the budget.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

LIMIT_DETAIL_PREFIX = "System : Request limit exceeded"


class SlidingWindowLimiter:
    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window

    def try_acquire(self, key: str) -> float | None:
        """None if the request may go ahead (and counts it), else seconds until it could."""
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                self.refused += 1
                return max(0.0, self.window - (now - hits[0]))
            hits.append(now)
            return None

    def refusal_detail(self, wait: float) -> str:
        return (
            f"{LIMIT_DETAIL_PREFIX}: at most {self.limit} requests per {self.window:g} seconds. "
            f"Retry after {wait:.1f} seconds."
        )
