"""The request limiter: at most N requests per sliding window of W seconds, per client id.

The only evidence is a README's "about 15 requests / 15 s" (API.md §11); how a real tenant
refuses is unknown, so the refusal has a configurable shape (`limit_shape`):

* ``detail`` (default): HTTP 200, ResponseId -1, TotalCount 0, Detail starting with
  ``LIMIT_DETAIL_PREFIX`` and ending "Retry after N seconds."
* ``http_429``: HTTP 429 with ``Retry-After`` (whole seconds, as HTTP requires).
* ``http_429_no_retry_after``: HTTP 429 and nothing to say how long to wait.
* ``http_503``: HTTP 503 Service Unavailable, no ``Retry-After`` (a front end shedding load).
* ``soap_fault``: a ``soap:Server`` fault, HTTP 500, whose text mentions the request limit.

Nothing of a refused request is processed, whatever the shape. A sliding window is the
stricter choice (a fixed window would allow 2N requests around its edge); refused requests do
not consume the budget.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Literal, get_args

LIMIT_DETAIL_PREFIX = "System : Request limit exceeded"
LimitShape = Literal["detail", "http_429", "http_429_no_retry_after", "http_503", "soap_fault"]
LIMIT_SHAPES: tuple[str, ...] = get_args(LimitShape)


class RateLimited(Exception):
    """Raised by the service for a refused request; the endpoint answers in the limiter's shape."""

    def __init__(self, wait: float, detail: str) -> None:
        super().__init__(detail)
        self.wait = wait
        self.detail = detail


class SlidingWindowLimiter:
    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        shape: LimitShape = "detail",
    ) -> None:
        self.limit = limit
        self.window = window
        self.shape: LimitShape = shape
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0
        self.refusing = 0  # the next this-many requests are refused whatever the window holds
        self.refused_on_purpose = 0

    def refuse_next(self, count: int) -> None:
        """Refuse the next `count` requests, as if other callers of the tenant had just taken the
        window's slots each time: a fault that bites whenever the integration next calls, unlike
        filling the window, which refuses nothing if no request falls inside it."""
        with self._lock:
            self.refusing += count

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window

    def try_acquire(self, key: str) -> float | None:
        """None if the request may go ahead (and counts it), else seconds until it could."""
        now = self._clock()
        with self._lock:
            if self.refusing > 0:
                self.refusing -= 1
                self.refused += 1
                self.refused_on_purpose += 1
                # Another caller's request just took the slot: the next frees a slot's spacing later.
                return self.window / self.limit
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
