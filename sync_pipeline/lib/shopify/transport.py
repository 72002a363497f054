"""POST GraphQL to Shopify with pacing and retries; return `data` or raise a typed error.

A search warning in `extensions.search` (a term Shopify ignored) raises `ShopifySearchWarning`
rather than returning a result wider than asked.

Retried: THROTTLED (HTTP 200, waiting what the bucket needs and at least half an exponential
backoff step; HTTP 429, waiting `Retry-After`), 5xx,
`INTERNAL_SERVER_ERROR`, timeouts and connection errors, with capped exponential backoff and
full jitter. Not retried: validation errors, ACCESS_DENIED, 401/403, MAX_COST_EXCEEDED.
A mutation that is not idempotent (no `@idempotent` key) is not repeated after a timeout or
5xx, because it may have run: the caller gets `ShopifyOutcomeUnknown` and re-reads instead.

`retry_until` (a `time.monotonic()` instant) bounds the retries of one call: no retry starts at or
after it, and none whose wait would end there is waited for; the caller gets
`ShopifyRetriesExhausted` at once instead (the first attempt always goes). A caller that claimed a
non-idempotent send for a while (the despatches flow: another run's lookup takes the send over once
its settle time has passed) needs its last attempt out well inside that while. Since a mutation
is retried only when Shopify certainly did not run it, giving up then means "not sent".
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from sync_pipeline.lib.retry_after import retry_after_seconds
from sync_pipeline.lib.tls import tls_context

from .errors import ShopifyOutcomeUnknown, ShopifyQueryError, ShopifyRetriesExhausted, ShopifySearchWarning
from .pacing import CostPacer

log = logging.getLogger(__name__)
RETRYABLE_CODES = {"THROTTLED", "INTERNAL_SERVER_ERROR"}
# A background pacer's fresh look at the bucket: one object, 1 requested point.
COST_PROBE = "query CostProbe { shop { id } }"


def _cost_and_codes(body: dict[str, Any]) -> tuple[dict[str, Any] | None, set[Any]]:
    """A GraphQL answer's `extensions.cost` and its errors' `extensions.code`s."""
    errors = body.get("errors") or []
    codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
    return (body.get("extensions") or {}).get("cost"), codes


@dataclass
class TransportStats:
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    points_requested: float = 0.0
    points_spent: float = 0.0
    by_operation: dict[str, int] = field(default_factory=dict)
    # Threads share one client (the despatches flow fulfils in parallel): counts add under this.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, operation: str | None = None, **counts: float) -> None:
        with self._lock:
            if operation is not None:
                self.by_operation[operation] = self.by_operation.get(operation, 0) + 1
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class GraphQLTransport:
    def __init__(
        self,
        endpoint: str,
        access_token: str,
        *,
        timeout: float = 30.0,
        max_attempts: int = 8,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        http: httpx.Client | None = None,
        pacer: CostPacer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self._headers = {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"}
        self._http = http or httpx.Client(timeout=timeout, verify=tls_context())
        self.pacer = pacer or CostPacer(sleep=sleep)
        if self.pacer.reserve_share > 0 and self.pacer.probe is None:
            self.pacer.probe = self.probe_bucket
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.stats = TransportStats()

    def close(self) -> None:
        self._http.close()

    def _step(self, attempt: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter: anywhere up to the capped step."""
        return random.uniform(0, self._step(attempt))

    def _throttle_backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter: between half the capped step and the step."""
        step = self._step(attempt)
        return step / 2 + random.uniform(0, step / 2)

    def execute(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        *,
        shape: Any = None,
        safe_to_retry: bool = True,
        cost_hint: float = 0.0,
        retry_until: float | None = None,
    ) -> dict[str, Any]:
        """Run one operation; `shape` keys the learned cost (operation + size-setting variables).
        `retry_until`: no retry starts at or after this `time.monotonic()` instant."""
        shape = shape if shape is not None else operation
        last = "no response"
        for attempt in range(1, self.max_attempts + 1):
            reserved = self.pacer.before_request(shape, cost_hint)
            if attempt > 1 and retry_until is not None and self._clock() >= retry_until:
                # The pacer held the retry past the caller's deadline: it does not go.
                self.pacer.answered(reserved)
                raise ShopifyRetriesExhausted(
                    operation, attempt - 1, f"{last} (no retry past the caller's deadline)"
                )
            self.stats.add(operation, requests=1)
            failure: httpx.TransportError | None = None
            try:
                response = self._http.post(
                    self.endpoint, json={"query": document, "variables": variables}, headers=self._headers
                )
            except httpx.TransportError as exc:
                failure = exc
            finally:
                self.pacer.answered(reserved)  # back (or failed): no longer out
            if failure is not None:
                last = f"{type(failure).__name__}: {failure}"
                # A connection never made never reached Shopify: always safe to repeat.
                if not isinstance(failure, httpx.ConnectError) and not safe_to_retry:
                    raise ShopifyOutcomeUnknown(operation, last) from failure
                self._retry_wait(operation, attempt, last, self._backoff(attempt), retry_until)
                continue
            delay, last, result = self._interpret(operation, shape, response, safe_to_retry, attempt)
            if result is not None:
                return result
            self._retry_wait(operation, attempt, last, delay, retry_until)
        raise ShopifyRetriesExhausted(operation, self.max_attempts, last)

    def probe_bucket(self) -> None:
        """Ask the cheapest query once, unpaced and unretried, and hand its `throttleStatus` to the
        pacer. A failed probe teaches nothing; the background pacer waits and asks again later."""
        self.stats.add("CostProbe", requests=1)
        try:
            response = self._http.post(self.endpoint, json={"query": COST_PROBE, "variables": {}},
                                       headers=self._headers)  # fmt: skip
            body = response.json() if response.status_code == 200 else {}
        except (httpx.TransportError, ValueError) as exc:
            log.debug("cost probe failed: %s", exc)
            return
        cost, codes = _cost_and_codes(body if isinstance(body, dict) else {})
        if "THROTTLED" in codes:
            self.stats.add(throttled=1)
        elif cost:
            self.stats.add(points_spent=float(cost.get("actualQueryCost") or 0))
        self.pacer.after_response("CostProbe", cost)

    def stream_lines(self, operation: str, url: str) -> Iterator[str]:
        """GET a result file (a bulk operation's signed URL) and yield its lines as they arrive.

        The access token is not sent: the URL carries its own signature and may point at a
        storage host outside Shopify. Failures before the first byte are retried like any
        request; a failure part way raises, because lines already yielded cannot be taken back.
        """
        last = "no response"
        for attempt in range(1, self.max_attempts + 1):
            started = False
            try:
                with self._http.stream("GET", url) as response:
                    if response.status_code in (401, 403, 404, 410):
                        raise ShopifyQueryError(operation, response.read().decode(errors="replace")[:300],
                                                response.status_code)  # fmt: skip
                    if response.status_code >= 400:
                        last = f"HTTP {response.status_code}"
                        self._retry_wait(operation, attempt, last, self._backoff(attempt))
                        continue
                    for line in response.iter_lines():
                        started = True
                        yield line
                    return
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                if started:
                    raise ShopifyRetriesExhausted(
                        operation, attempt, f"download cut part way: {last}"
                    ) from exc
                self._retry_wait(operation, attempt, last, self._backoff(attempt))
        raise ShopifyRetriesExhausted(operation, self.max_attempts, last)

    def _retry_wait(
        self, operation: str, attempt: int, last: str, delay: float, retry_until: float | None = None
    ) -> None:
        if attempt >= self.max_attempts:
            return
        if retry_until is not None and self._clock() + delay >= retry_until:
            raise ShopifyRetriesExhausted(
                operation,
                attempt,
                f"{last} (not retried: the wait of {delay:.2f}s ends past the caller's deadline)",
            )
        self.stats.add(retries=1)
        log.debug("%s attempt %d failed (%s); retrying in %.2fs", operation, attempt, last, delay)
        self._sleep(delay)

    def _interpret(
        self, operation: str, shape: Any, response: httpx.Response, safe: bool, attempt: int
    ) -> tuple[float, str, dict[str, Any] | None]:
        status = response.status_code
        last = f"HTTP {status}: {response.text[:500]}"
        if status == 429:
            self.stats.add(throttled=1)
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            return (retry_after if retry_after is not None else self._backoff(attempt)), last, None
        if status >= 500:
            if not safe:
                raise ShopifyOutcomeUnknown(operation, last)
            return self._backoff(attempt), last, None
        try:
            body = response.json()
        except ValueError:
            raise ShopifyQueryError(operation, response.text[:500], status) from None
        if status != 200 or not isinstance(body, dict):
            raise ShopifyQueryError(operation, body.get("errors") if isinstance(body, dict) else body, status)
        cost, codes = _cost_and_codes(body)
        self.pacer.after_response(shape, cost)
        errors = body.get("errors") or []
        if "THROTTLED" in codes:
            self.stats.add(throttled=1)
            refill = self.pacer.throttle_delay(cost)
            # The refill time alone is not enough under contention: the other clients of the
            # shop's bucket (fulfilments at a peak) spend the points as they come back, and eight
            # retries each as short as the refill (0.2 s for a 250-point read) ran out in seconds
            # (session 17's rehearsal: an ingest read and the hourly catalogue read failed so).
            # So a throttled call also backs off exponentially, never less than half the capped
            # step: eight THROTTLED answers take at least ~31 s before the caller hears of it.
            return max(refill or 0.0, self._throttle_backoff(attempt)) + 0.05, last, None
        if codes & RETRYABLE_CODES and body.get("data") is None and safe:
            return self._backoff(attempt), last, None
        if errors:
            raise ShopifyQueryError(operation, errors, status)
        if cost:
            self.stats.add(
                points_requested=float(cost.get("requestedQueryCost") or 0),
                points_spent=float(cost.get("actualQueryCost") or 0),
            )
        data = body.get("data")
        if not isinstance(data, dict):
            raise ShopifyQueryError(operation, body, status)
        searches = (body.get("extensions") or {}).get("search") or []
        warned = [s for s in searches if isinstance(s, dict) and s.get("warnings")]
        if warned:
            # A term Shopify ignored widens the result (a misspelled field reads every order).
            raise ShopifySearchWarning(operation, warned)
        return 0.0, last, data
