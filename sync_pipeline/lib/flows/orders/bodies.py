"""Ingest from the webhook bodies: record each order at the version its newest body carries.

An `orders/*` body is the whole order at the version its `updated_at` names (`webhook_order.py`),
so recording it needs no Shopify read, and no `shopify_api` pool slot: the ingest asset runs this
step first, on its own. What a body cannot settle it leaves to the read by id after it
(`ingest.ingest_notified`, which holds the pool), by leaving the ledger behind that version:

- a body refused by the mapping (logged with its reason; the order is read by id, never dropped);
- two bodies of one order at one version that differ: a second change in the same second, and
  which came last cannot be told, so neither is recorded;
- a body at the version the ledger holds that differs from its snapshot: the same, found across
  runs; the snapshot is marked unsettled (`mark_snapshots_read` at its own version), so the read
  by id, the poll and release all read the order again.

Shopify sends several topics for one change (`orders/paid` with `orders/updated`; `orders/cancelled`
with `orders/updated`): the same order at the same version, recorded once.

A body is recorded as read when this step reads it: once its second is over, it counts as
settled (`observed.SETTLE`), as a read by id would. A later change in that same second sends its
own webhook, whose body differs at the same version (above); what is left is such a change whose
webhook is lost too, where the poll's free fields (`changes.agrees`) still catch a cancel, refund,
line, tag or contact edit, as they do for our own fulfilment's versions.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.ingest import CHUNK, MAX_SECONDS_PER_RUN, WEBHOOKS_PER_CALL, OnRecorded
from sync_pipeline.lib.flows.orders.observed import record_orders
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.flows.orders.webhook_order import (
    ORDER_BODY_TOPICS,
    BodyRefused,
    order_from_body,
    order_id_of,
)
from sync_pipeline.lib.inbox import Inbox, InboxItem
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

log = logging.getLogger(__name__)

BODY_CURSOR = "inbox_shopify_bodies"


@dataclass
class BodiesReport:
    recorded: int = 0  # orders recorded from a body
    held_already: int = 0  # the ledger held that version already (a duplicate topic, an older body)
    left_to_read: Counter[str] = field(default_factory=Counter)  # why an order is left to the read by id
    caught_up: bool = True


def record_bodies(
    inbox: Inbox,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    max_seconds: float = MAX_SECONDS_PER_RUN,
    on_recorded: OnRecorded | None = None,
) -> BodiesReport:
    """Record the orders the webhooks since the last call carry, `CHUNK` webhooks at a time (the
    inbox cursor moving after each); after `max_seconds` it stops and says it has not caught up."""
    report, started = BodiesReport(), time.monotonic()
    waiting = inbox.since("shopify", after=ledger.get_cursor(BODY_CURSOR), limit=WEBHOOKS_PER_CALL)
    for start in range(0, len(waiting), CHUNK):
        items = waiting[start : start + CHUNK]
        read_at = now + timedelta(seconds=time.monotonic() - started)
        fresh = _settle(items, ledger, read_at, report)
        if fresh:
            recorded = record_orders(ledger, fresh, rules, actor, now, read_at, from_body=True)
            report.recorded += len(fresh)
            if on_recorded is not None:
                on_recorded(recorded)
        ledger.set_cursor(BODY_CURSOR, items[-1].name)
        if time.monotonic() - started >= max_seconds and start + CHUNK < len(waiting):
            report.caught_up = False
            break
    else:
        report.caught_up = len(waiting) < WEBHOOKS_PER_CALL
    return report


def _settle(
    items: list[InboxItem], ledger: Ledger, read_at: datetime, report: BodiesReport
) -> list[ShopOrder]:
    """The orders these webhooks' bodies settle; the rest are left behind for the read by id."""
    bodies: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for item in items:
        event = item.load()
        payload = event.get("payload")
        if event.get("topic") not in ORDER_BODY_TOPICS or not isinstance(payload, dict):
            continue
        oid = order_id_of(payload)
        if oid is None:
            continue  # the read by id logs it: it names no order to read
        bodies.setdefault(oid, []).append((item.name, payload))
    if not bodies:
        return []
    with ledger.transaction() as con:
        known = ledger_orders.get_many(con, list(bodies))
    fresh: list[ShopOrder] = []
    unsettle: list[tuple[str, datetime]] = []
    for oid, got in bodies.items():
        row = known.get(oid)
        verdict = _verdict(oid, got, row)
        if isinstance(verdict, ShopOrder):
            fresh.append(verdict)
        elif verdict == "held":
            report.held_already += 1
        else:
            report.left_to_read[verdict] += 1
            if verdict == "differs from the ledger at its version" and row is not None:
                unsettle.append((oid, row.shopify_updated_at))  # type: ignore[arg-type]
    if unsettle:
        with ledger.transaction() as con:  # one transaction for the chunk, not one per order
            for oid, version in unsettle:
                ledger_orders.mark_snapshots_read(con, [oid], version)
    return fresh


def _verdict(oid: str, got: list[tuple[str, dict[str, Any]]], row: OrderRow | None) -> ShopOrder | str:
    """The order to record, "held" (nothing to do), or why it is left to the read by id."""
    held = ShopOrder.model_validate(row.snapshot) if row is not None and row.snapshot else None
    mapped: list[ShopOrder] = []
    for name, payload in got:
        try:
            # Customer tags not read (None), even if the ledger holds some: the body names its
            # customer by id only, and staff may have moved the order to another customer.
            mapped.append(order_from_body(payload, None))
        except BodyRefused as refused:
            log.warning("inbox %s: body of %s not recorded (%s); it is read by id", name, oid, refused)
            return "body refused"
    newest = max(o.updated_at for o in mapped)
    at_newest: list[ShopOrder] = []
    for order in mapped:
        if order.updated_at == newest and order not in at_newest:
            at_newest.append(order)
    if len(at_newest) > 1:
        return "two changes in one second"
    body = at_newest[0]
    version = aware(row.shopify_updated_at) if row is not None else None
    if version is None or version < newest:  # type: ignore[operator]
        return body
    if version > newest or (held is not None and _same_but_for_customer_tags(held, body)):  # type: ignore[operator]
        return "held"
    return "differs from the ledger at its version"


def _same_but_for_customer_tags(held: ShopOrder, body: ShopOrder) -> bool:
    """The body is the held snapshot, leaving aside the customer tags no body carries."""
    if body.customer_tags is None:
        held = held.model_copy(update={"customer_tags": None})
    return held == body


def body_metadata(report: BodiesReport) -> dict[str, object]:
    """What the step did, for the Dagster UI."""
    return {
        "recorded_from_webhook_bodies": report.recorded,
        "webhook_bodies_held_already": report.held_already,
        "left_for_read_by_id": sum(report.left_to_read.values()),
        "left_for_read_by_id_why": ", ".join(f"{why}: {n}" for why, n in report.left_to_read.items())
        or "none",
        "bodies_caught_up": report.caught_up,
    }
