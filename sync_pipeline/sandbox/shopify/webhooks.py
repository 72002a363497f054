"""Webhook subscriptions and delivery: signed POSTs from a background thread, with retries.

Delivery follows Shopify's contract on a short clock: the body is the REST-shaped resource,
`X-Shopify-Hmac-SHA256` is the base64 HMAC-SHA256 of the raw body keyed with the app secret,
a non-2xx answer (or no answer) is retried with exponential backoff up to
`webhook_max_attempts`, and fault injection may drop a delivery or send it twice. A duplicate
always carries the same `X-Shopify-Event-Id`; some (`webhook_duplicate_fresh_id_rate`) come as a
new delivery with a fresh `X-Shopify-Webhook-Id`, the rest repeat the webhook id as a
redelivery would. Shopify's guidance is to recognise duplicates by the event id.
The payload is rendered when the event happens, so retries carry the original state.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from sync_pipeline.lib.tls import tls_context

from .config import ShopifySandboxConfig
from .model import WebhookSubscription
from .payloads import build
from .store import Store, StoreError

TOPICS = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_EDITED": "orders/edited",
    "ORDERS_CANCELLED": "orders/cancelled",
    "ORDERS_FULFILLED": "orders/fulfilled",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
    "FULFILLMENTS_CREATE": "fulfillments/create",
    "FULFILLMENTS_UPDATE": "fulfillments/update",
    "INVENTORY_LEVELS_UPDATE": "inventory_levels/update",
    "REFUNDS_CREATE": "refunds/create",
    "BULK_OPERATIONS_FINISH": "bulk_operations/finish",
}
REST_TO_ENUM = {v: k for k, v in TOPICS.items()}


def normalise_topic(topic: str) -> str:
    enum = REST_TO_ENUM.get(topic, topic)
    if enum not in TOPICS:
        raise StoreError(f"topic {topic!r} is not delivered by the sandbox; choose from {sorted(TOPICS)}")
    return enum


def subscribe(store: Store, topic: str, uri: str, options: dict[str, Any]) -> WebhookSubscription:
    enum = normalise_topic(topic)
    with store.lock:
        if any(s.topic == enum and s.uri == uri for s in store.subscriptions.values()):
            raise StoreError("Address for this topic has already been taken")
        now = datetime.now(UTC)
        sub = WebhookSubscription(
            store.ids.next(),
            enum,
            uri,
            now,
            now,
            include_fields=list(options.get("includeFields") or []),
            filter=options.get("filter"),
        )
        store.subscriptions[sub.id] = sub
        return sub


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(order=True)
class _Delivery:
    due: float
    seq: int
    uri: str = field(compare=False)
    body: bytes = field(compare=False)
    headers: dict[str, str] = field(compare=False)
    record: dict[str, Any] = field(compare=False)


class Dispatcher:
    """Renders events into deliveries and sends them from worker threads."""

    def __init__(self, store: Store, config: ShopifySandboxConfig, api_version: str = "2026-10") -> None:
        self.store = store
        self.config = config
        self.api_version = api_version
        self.log: list[dict[str, Any]] = []
        # Deliveries the fault settings dropped or doubled (the rehearsal reports each fault's effect).
        self.faulted: Counter[str] = Counter()
        self._queue: list[_Delivery] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._random = random.Random(config.faults.seed)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shopify-webhook")
        self._client = httpx.Client(timeout=config.webhook_timeout_seconds, verify=tls_context())
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="shopify-webhooks", daemon=True)
        self._thread.start()

    def emit(self, topic: str, ref: dict[str, Any]) -> None:
        """Called by the store (under its lock) when something happened."""
        subs = [s for s in self.store.subscriptions.values() if s.topic == topic]
        if not subs:
            return
        body = json.dumps(build(self.store, topic, ref), separators=(",", ":"), ensure_ascii=False).encode()
        triggered = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event_id = str(uuid.uuid4())
        faults = self.config.faults
        for sub in subs:
            headers = {
                "Content-Type": "application/json",
                "X-Shopify-Topic": TOPICS[topic],
                "X-Shopify-Hmac-SHA256": sign(body, self.config.webhook_secret),
                "X-Shopify-Shop-Domain": self.config.shop_domain,
                "X-Shopify-API-Version": self.api_version,
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": event_id,
                "X-Shopify-Triggered-At": triggered,
                "X-Shopify-Name": f"sandbox-{sub.id}",
            }
            record = {"webhook_id": headers["X-Shopify-Webhook-Id"], "event_id": event_id,
                      "topic": TOPICS[topic], "uri": sub.uri, "status": "pending", "attempts": 0,
                      "duplicate": False}  # fmt: skip
            self.log.append(record)
            if self._random.random() < faults.webhook_drop_rate:
                record["status"] = "dropped"
                self.faulted["webhooks_dropped"] += 1
                continue
            self._push(_Delivery(time.monotonic(), next(self._seq), sub.uri, body, headers, record))
            if self._random.random() < faults.webhook_duplicate_rate:
                twin_headers = dict(headers)
                if self._random.random() < faults.webhook_duplicate_fresh_id_rate:
                    twin_headers["X-Shopify-Webhook-Id"] = str(uuid.uuid4())
                self.faulted["webhooks_duplicated"] += 1
                twin = {**record, "duplicate": True, "webhook_id": twin_headers["X-Shopify-Webhook-Id"]}
                self.log.append(twin)
                self._push(
                    _Delivery(time.monotonic() + 0.05, next(self._seq), sub.uri, body, twin_headers, twin)
                )

    def _push(self, delivery: _Delivery) -> None:
        with self._cond:
            heapq.heappush(self._queue, delivery)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._queue or self._queue[0].due > time.monotonic()):
                    wait = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(timeout=wait)
                if self._stopped:
                    return
                delivery = heapq.heappop(self._queue)
            self._pool.submit(self._send, delivery)

    def _send(self, delivery: _Delivery) -> None:
        record = delivery.record
        record["attempts"] += 1
        if record["attempts"] == 1:
            # Seconds the webhook waited for a sender in the sandbox's own queue (the rehearsal
            # reports the stand-in's share of a latency apart from the product's).
            record["waited_s"] = round(max(0.0, time.monotonic() - delivery.due), 3)
        try:
            response = self._client.post(delivery.uri, content=delivery.body, headers=delivery.headers)
            ok, detail = response.is_success, response.status_code
        except httpx.HTTPError as exc:
            ok, detail = False, type(exc).__name__
        record["last_result"] = detail
        if ok:
            record["status"] = "delivered"
        elif record["attempts"] < self.config.webhook_max_attempts:
            record["status"] = "retrying"
            delay = self.config.webhook_retry_base_seconds * 2 ** (record["attempts"] - 1)
            delivery.due, delivery.seq = time.monotonic() + delay, next(self._seq)
            self._push(delivery)
        else:
            record["status"] = "failed"

    def pending(self) -> int:
        return sum(1 for r in self.log if r["status"] in ("pending", "retrying"))

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
