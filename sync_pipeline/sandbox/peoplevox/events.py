"""Event subscriptions and best-effort callback delivery from a background thread.

Assumptions (API.md §9):

* ``SubscribeEvent`` callbacks are ``GET callbackUrl`` with every ``{Placeholder}`` replaced by
  its URL-encoded value. ``SubscribePostEvent`` callbacks are ``POST postUrl`` with the body
  ``postParams`` rendered the same way, sent as ``application/x-www-form-urlencoded``.
* Only confirmed placeholders are filled (``CONFIRMED_PLACEHOLDERS``: the sets a client that
  ran against the live service used, API.md §9); any other is left as written, as a real
  tenant would most likely leave it, so a client that relies on an invented one sees
  ``{Name}`` instead of a value. The warehouse emits every fact it knows; this module decides
  which of them Peoplevox exposes.
* The ``filter`` argument is stored but not applied: subscribers get every event of the type
  (more callbacks than asked for is the safe direction for idempotent receivers).
* Delivery is attempted once; no retry on failure. Fault settings can drop, duplicate or
  delay deliveries, because the real service gives no delivery guarantee either.
* Neither the order of delivery nor how many go at once is documented. The sandbox sends up to
  ``DELIVERY_WORKERS`` at once, so callbacks can arrive out of the order they were raised in (the
  stricter case for a receiver). One sender at a time had made the sandbox's own queue the
  slowest part of a callback's way at a rehearsal's peak (~140 callbacks a second: AvailabilityChanges
  waited p95 75-100 s behind status and tracking callbacks, session 21), a delay of the stand-in,
  not of anything Peoplevox documents. How long each waited is kept (``Delivery.waited``), so a
  rehearsal reports the stand-in's share of a latency apart from the product's.
"""

from __future__ import annotations

import queue
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from sync_pipeline.lib.tls import tls_context
from sync_pipeline.sandbox.peoplevox.faults import FaultSettings

EVENT_TYPES: tuple[str, ...] = (
    "AvailabilityChanges",
    "SalesOrderStatusChanges",
    "GoodsReceived",
    "TrackingNumberReceived",
    "IncrementalChanges",
    "Returns",
)
# Callbacks sent at once (as the Shopify sandbox's webhook senders).
DELIVERY_WORKERS = 4
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")

# finerylondon/peep_conn `lib/peep_conn/subscription.rb` (API.md §9). The status name is spelled
# there `SalesOrderStatu.Name` (doubtful; the reference writes SalesOrderStatus.Name): the
# sandbox fills only the source's spelling. No placeholder is confirmed for Returns, and none
# names a site for any event.
CONFIRMED_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "AvailabilityChanges": frozenset({"ItemCode", "Available"}),
    "SalesOrderStatusChanges": frozenset(
        {"SalesOrderNumber", "LastModificationTime", "SalesOrderStatu.Name"}
    ),
    "TrackingNumberReceived": frozenset(
        {
            "DespatchNumber",
            "TrackingNumber",
            "Carrier.Number",
            "ServiceType.Code",
            "ServiceType.Name",
            "Picks.SalesOrder.SalesOrderNumber",
            "Picks.SalesOrder.Email",
        }
    ),
    "GoodsReceived": frozenset(
        {
            "GoodsInId",
            "Reference",
            "ReconciledDateTime",
            "Consignments.ConsignmentItemTypes.ItemType.ItemCode",
            "Consignments.ConsignmentItemTypes.Quantity",
        }
    ),
    "IncrementalChanges": frozenset(
        {"ItemType.ItemCode", "QuantityChanged", "Reason", "UpdatedBy", "UpdateTimestamp"}
    ),
    "Returns": frozenset(),
}


def render(template: str, values: dict[str, str]) -> str:
    """Replace `{Name}` tokens with URL-encoded values; unknown tokens stay as written."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return quote(values[name], safe="") if name in values else match.group(0)

    return _PLACEHOLDER.sub(replace, template)


@dataclass
class Subscription:
    subscription_id: int
    event_type: str
    filter: str
    url: str
    post_params: str | None = None

    @property
    def method(self) -> str:
        return "GET" if self.post_params is None else "POST"


@dataclass
class Delivery:
    subscription_id: int
    event_type: str
    method: str
    url: str
    body: str | None
    outcome: str = "pending"  # pending | delivered | failed | dropped
    status_code: int | None = None
    values: dict[str, str] = field(default_factory=dict)
    # Seconds from when the callback was due (raised, plus any injected delay) to its send: the
    # sandbox's own queue. None until attempted.
    waited: float | None = None


class EventHub:
    """Keeps subscriptions and delivers callbacks on its own thread."""

    def __init__(self, faults: FaultSettings) -> None:
        self.faults = faults
        self.subscriptions: dict[int, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self.emitted: dict[str, int] = dict.fromkeys(EVENT_TYPES, 0)
        self._next_id = 1
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[float, Delivery] | None] = queue.Queue()
        self._rng = random.Random(faults.seed)
        self._threads: list[threading.Thread] = []
        self._http: httpx.Client | None = None
        self._stopping = threading.Event()
        self._pending = 0
        # Callbacks the fault settings dropped or doubled (the rehearsal reports each fault's effect).
        self.dropped = 0
        self.duplicated = 0
        self._idle = threading.Condition(self._lock)

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, event_type: str, filter_: str, url: str, post_params: str | None) -> int:
        with self._lock:
            subscription = Subscription(self._next_id, event_type, filter_, url, post_params)
            self.subscriptions[subscription.subscription_id] = subscription
            self._next_id += 1
            return subscription.subscription_id

    def unsubscribe(self, subscription_id: int) -> bool:
        with self._lock:
            return self.subscriptions.pop(subscription_id, None) is not None

    # -- emission ----------------------------------------------------------------------------
    def emit(self, event_type: str, values: dict[str, str]) -> None:
        confirmed = CONFIRMED_PLACEHOLDERS.get(event_type, frozenset())
        values = {name: value for name, value in values.items() if name in confirmed}
        with self._lock:
            self.emitted[event_type] = self.emitted.get(event_type, 0) + 1
            targets = [s for s in self.subscriptions.values() if s.event_type == event_type]
            for subscription in targets:
                body = None if subscription.post_params is None else render(subscription.post_params, values)
                delivery = Delivery(
                    subscription.subscription_id,
                    event_type,
                    subscription.method,
                    render(subscription.url, values),
                    body,
                    values=dict(values),
                )
                self.deliveries.append(delivery)
                copies = 2 if self._rng.random() < self.faults.callback_duplicate_rate else 1
                if self._rng.random() < self.faults.callback_drop_rate:
                    delivery.outcome = "dropped"
                    self.dropped += 1
                    continue
                self.duplicated += copies - 1
                for _ in range(copies):
                    delay = self.faults.callback_delay_seconds
                    self._pending += 1
                    self._queue.put((time.monotonic() + delay, delivery))

    # -- delivery thread ---------------------------------------------------------------------
    def start(self) -> None:
        if not self._threads:
            # One client for all senders (httpx.Client is safe to share between threads), handed to
            # each: a sender still in a call when stop() gives up on it keeps a client to finish with.
            self._stopping = threading.Event()
            self._http = httpx.Client(timeout=5.0, verify=tls_context())
            self._threads = [
                threading.Thread(
                    target=self._run,
                    args=(self._http, self._stopping),
                    name=f"pvx-callbacks-{n}",
                    daemon=True,
                )
                for n in range(DELIVERY_WORKERS)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Sends nothing more: the calls under way end (within `timeout` for all senders together),
        callbacks still queued are dropped unsent (`pending`, no `waited`)."""
        if self._threads:
            self._stopping.set()
            for _ in self._threads:
                self._queue.put(None)
            deadline = time.monotonic() + timeout
            for thread in self._threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            # A sender still in a call (its receiver hung) keeps the client; it is daemonic.
            if self._http is not None and not any(t.is_alive() for t in self._threads):
                self._http.close()
            self._threads, self._http = [], None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued callback has been attempted (tests and the control API)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def _run(self, http: httpx.Client, stopping: threading.Event) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            not_before, delivery = job
            pause = not_before - time.monotonic()
            if pause > 0:
                stopping.wait(pause)  # a delayed callback; a stop does not wait for it
            if not stopping.is_set():
                delivery.waited = max(0.0, time.monotonic() - not_before)
                self._deliver(http, delivery)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def waits(self) -> dict[str, list[float]]:
        """Seconds each attempted callback waited in the sandbox's queue, by event type."""
        with self._lock:
            attempted = [(d.event_type, d.waited) for d in self.deliveries if d.waited is not None]
        by_type: dict[str, list[float]] = {}
        for event_type, waited in attempted:
            by_type.setdefault(event_type, []).append(waited)
        return by_type

    @staticmethod
    def _deliver(http: httpx.Client, delivery: Delivery) -> None:
        try:
            if delivery.method == "GET":
                response = http.get(delivery.url)
            else:
                response = http.post(
                    delivery.url,
                    content=(delivery.body or "").encode(),
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            delivery.status_code = response.status_code
            delivery.outcome = "delivered" if response.is_success else "failed"
        except httpx.HTTPError:
            delivery.outcome = "failed"

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "subscriptions": [vars(s).copy() for s in self.subscriptions.values()],
                "emitted": dict(self.emitted),
                "deliveries": [
                    {k: v for k, v in vars(d).items() if k != "values"} | {"values": dict(d.values)}
                    for d in self.deliveries
                ],
            }
