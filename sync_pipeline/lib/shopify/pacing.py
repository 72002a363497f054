"""Pace requests from Shopify's `throttleStatus` so the bucket is used fully and rarely overrun.

After every response the pacer knows how many points were available and how fast they come
back. Before the next request it estimates what the bucket holds now and, when that cannot
cover the request's expected cost (the `requestedQueryCost` last seen for the same operation
shape), sleeps exactly long enough for the restore rate to make up the difference. The wait is
taken under a lock and the cost reserved locally, so threads sharing a client queue up instead
of all firing at once. A status describes the bucket after its own request only: costs reserved
for requests still out (threads sharing the client) are taken off it, since Shopify may not have
charged them yet (when it has, they count twice for a moment: the safe side). Our clock starts when we *receive* a status, a little after Shopify
computed it, which makes the estimate err on the safe side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class CostPacer:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._maximum: float | None = None
        self._available = 0.0
        self._restore = 0.0
        self._stamp = 0.0
        self._expected: dict[Any, float] = {}
        self._outstanding = 0.0  # costs reserved for requests sent and not answered yet
        self.waited_seconds = 0.0

    @property
    def maximum(self) -> float | None:
        """The bucket's size as Shopify last reported it (None before the first answer)."""
        return self._maximum

    def estimate(self) -> float | None:
        if self._maximum is None:
            return None
        elapsed = self._clock() - self._stamp
        return min(self._maximum, self._available + elapsed * self._restore)

    def expected_cost(self, shape: Any, hint: float = 0.0) -> float:
        """What `shape` asked for last time; before the first answer, the caller's estimate."""
        return self._expected.get(shape, hint)

    def before_request(self, shape: Any, hint: float = 0.0) -> float:
        """Block until the bucket should hold the expected cost of `shape`, then reserve it.
        Returns the cost reserved: hand it to `answered` once the request is back (or failed)."""
        cost = self.expected_cost(shape, hint)
        if self._maximum is not None:
            cost = min(cost, self._maximum)
        with self._lock:
            available = self.estimate()
            if available is None or cost <= 0:
                return 0.0
            if available < cost and self._restore > 0:
                delay = (cost - available) / self._restore
                self.waited_seconds += delay
                self._sleep(delay)
                available = self.estimate() or 0.0
            self._available, self._stamp = available - cost, self._clock()
            self._outstanding += cost
            return cost

    def answered(self, reserved: float) -> None:
        """The request `before_request` reserved `reserved` for is no longer out."""
        if reserved:
            with self._lock:
                self._outstanding = max(0.0, self._outstanding - reserved)

    def after_response(self, shape: Any, cost: dict[str, Any] | None) -> None:
        """Learn from `extensions.cost`: the bucket's state and what this shape asks for."""
        if not cost:
            return
        if cost.get("requestedQueryCost") is not None:
            self._expected[shape] = float(cost["requestedQueryCost"])
        status = cost.get("throttleStatus") or {}
        if status.get("currentlyAvailable") is None:
            return
        with self._lock:
            self._maximum = float(status["maximumAvailable"])
            self._available = float(status["currentlyAvailable"]) - self._outstanding
            self._restore = float(status["restoreRate"])
            self._stamp = self._clock()

    def throttle_delay(self, cost: dict[str, Any] | None) -> float | None:
        """After THROTTLED: how long until the bucket can cover the refused request."""
        if not cost or not cost.get("throttleStatus"):
            return None
        status = cost["throttleStatus"]
        missing = float(cost.get("requestedQueryCost") or 0) - float(status["currentlyAvailable"])
        rate = float(status["restoreRate"]) or 1.0
        return max(0.0, missing / rate)
