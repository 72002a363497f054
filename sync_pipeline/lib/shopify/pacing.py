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

Priority. The bucket is the shop's, spent by every process of the app. A *background* pacer
(`reserve_share` > 0: the finance money read) leaves that share of the bucket's `maximumAvailable`
for the others: before each request
it waits until the bucket holds the request's cost plus the reserve. Its estimate (last status plus
the restore since) is optimistic, because the others spend between its requests; so when the last
status it saw could not cover cost plus reserve, it confirms with a fresh one (`probe`: a ~1-point
query through the same transport, at most once per `probe_interval`) before it sends. It yields at
most until `yield_until` (the caller's time budget), then goes on paced like any client, so it never
starves silently; `yielded_seconds` says how long it waited for the others.
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
        *,
        reserve_share: float = 0.0,
        probe_interval: float = 1.0,
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
        if not 0.0 <= reserve_share < 1.0:
            raise ValueError(f"reserve_share must be in [0, 1), got {reserve_share}")
        # Share of the bucket left to the others (0: a hot-path client, no yielding).
        self.reserve_share = reserve_share
        self.probe_interval = probe_interval
        self.probe: Callable[[], None] | None = None  # fetches a fresh status (set by the transport)
        self.yield_until: float | None = None  # a clock instant; past it, stop yielding
        self.yielded_seconds = 0.0
        self.probes = 0
        self.yield_gave_up = False  # reached `yield_until` while still yielding
        self._seen = 0.0  # `currentlyAvailable` of the last status, as Shopify stated it
        self._last_probe: float | None = None

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
        if self.reserve_share > 0:
            self._yield(cost)
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

    def _yield(self, cost: float) -> None:
        """Background only: wait until the bucket holds `cost` plus the reserve, confirmed by a
        status Shopify sent (not only restored in our estimate), or until `yield_until`."""
        started = self._clock()
        try:
            while True:
                if self._maximum is None:  # nothing known yet: ask before spending
                    if self.probe is None or self._last_probe is not None:
                        return
                    self._run_probe()
                    continue
                # At most a full bucket less the probe's own point: a status confirmed by a probe
                # never shows more, and a need of the whole bucket (a page dearer than the share
                # left, on a small plan) would wait for `yield_until` whatever the others spent.
                need = min(self._maximum - 1.0, cost + self.reserve_share * self._maximum)
                estimate = self.estimate() or 0.0
                confirmed = self._seen - self._outstanding >= need or self.probe is None
                if estimate >= need and confirmed:
                    return
                now = self._clock()
                if self.yield_until is not None and now >= self.yield_until:
                    self.yield_gave_up = True
                    return
                if estimate >= need and self._probe_due(now):
                    self._run_probe()
                    continue
                # Until the restore could have covered it, and no sooner than the next probe.
                delay = (need - estimate) / self._restore if self._restore > 0 else self.probe_interval
                if self._last_probe is not None and self.probe is not None:
                    delay = max(delay, self._last_probe + self.probe_interval - now)
                if self.yield_until is not None:
                    delay = min(delay, max(0.0, self.yield_until - now))
                self._sleep(max(delay, 0.001))
        finally:
            self.yielded_seconds += self._clock() - started

    def _probe_due(self, now: float) -> bool:
        return self.probe is not None and (
            self._last_probe is None or now - self._last_probe >= self.probe_interval
        )

    def _run_probe(self) -> None:
        self._last_probe = self._clock()
        self.probes += 1
        assert self.probe is not None
        self.probe()

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
            self._seen = float(status["currentlyAvailable"])
            self._available = self._seen - self._outstanding
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
