"""Ingest from the webhook bodies: record each order at the version its newest body carries.

An `orders/*` body is the whole order at the version its `updated_at` names (`webhook_order.py`),
so recording it needs no Shopify read, and no `shopify_orders` pool slot: the ingest asset runs this
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

A body is recorded as read when this step last looked at the inbox for that order: once its
second is over, it counts as settled (`observed.SETTLE`), as a read by id would. A later change in
that same second sends its own webhook, whose body differs at the same version (above); what is
left is such a change whose webhook is lost too (or later than `SETTLE`), where the poll's free
fields (`changes.agrees`) still catch a cancel, refund, line, tag or contact edit, as they do for
our own fulfilment's versions.

At a peak most bodies are taken within seconds of their version: recorded then, they would be
unsettled and every one read by id again (134,790 points in session 8's rehearsal). So an order
whose newest body is younger than `SETTLE` waits for the end of the step (holding no pool), which
sleeps until the youngest of them is `SETTLE` old (at most `max_wait`, and never past the step's
budget), then lists the inbox again for the later bodies of those orders (a second change in the
same second), and decides them with those. The wait is for the bodies the step listed when it
began: bodies arriving meanwhile are not waited for (the next run takes them), so a burst that
keeps arriving cannot keep the step waiting. What the wait could not settle is recorded unsettled
and read by id, as before.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.ingest import CHUNK, MAX_SECONDS_PER_RUN, WEBHOOKS_PER_CALL, OnRecorded
from sync_pipeline.lib.flows.orders.observed import SETTLE, record_orders, settled
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.flows.orders.webhook_order import (
    ORDER_BODY_TOPICS,
    BodyRefused,
    body_version,
    order_from_body,
    order_id_of,
)
from sync_pipeline.lib.inbox import Inbox, InboxItem
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

log = logging.getLogger(__name__)

BODY_CURSOR = "inbox_shopify_bodies"

# Webhooks the live read looks at past the body step's cursor (files it reads holding the pool).
WAITING_LOOKAHEAD = 1000
# An order's bodies, in arrival order: (inbox name, payload).
Bodies = dict[str, list[tuple[str, dict[str, Any]]]]


@dataclass(frozen=True)
class Clock:
    """How the step tells the time and waits (a test world passes its virtual clock)."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


@dataclass
class BodiesReport:
    recorded: int = 0  # orders recorded from a body
    held_already: int = 0  # the ledger held that version already (a duplicate topic, an older body)
    left_to_read: Counter[str] = field(default_factory=Counter)  # why an order is left to the read by id
    caught_up: bool = True
    waited_for: int = 0  # orders whose bodies were too young to trust when first taken
    waited_seconds: float = 0.0
    recorded_unsettled: int = 0  # recorded before their second was SETTLE old: read by id again


def record_bodies(
    inbox: Inbox,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    max_seconds: float = MAX_SECONDS_PER_RUN,
    on_recorded: OnRecorded | None = None,
    max_wait: float = SETTLE.total_seconds(),
    clock: Clock = Clock(),
) -> BodiesReport:
    """Record the orders the webhooks since the last call carry, `CHUNK` webhooks at a time (the
    inbox cursor moving after each); after `max_seconds` it stops and says it has not caught up.
    Orders whose bodies are too young to trust wait for the end (module docstring), at most
    `max_wait` seconds and never past `max_seconds`; with `max_wait` 0 they are recorded unsettled."""
    report, started = BodiesReport(), clock.monotonic()

    def moment() -> datetime:
        return now + timedelta(seconds=clock.monotonic() - started)

    def record(fresh: list[ShopOrder], read_at: datetime) -> None:
        if not fresh:
            return
        recorded = record_orders(ledger, fresh, rules, actor, now, read_at, from_body=True)
        report.recorded += len(fresh)
        report.recorded_unsettled += sum(not settled(o.updated_at, read_at) for o in fresh)
        if on_recorded is not None:
            on_recorded(recorded)

    young: Bodies = {}
    listed_at = moment()  # every body listed here had arrived by this moment
    waiting = inbox.since("shopify", after=ledger.get_cursor(BODY_CURSOR), limit=WEBHOOKS_PER_CALL)
    for start in range(0, len(waiting), CHUNK):
        items = waiting[start : start + CHUNK]
        record(
            _decide(_bodies_of(items), ledger, listed_at, report, young if max_wait > 0 else None), listed_at
        )
        ledger.set_cursor(BODY_CURSOR, items[-1].name)
        if clock.monotonic() - started >= max_seconds and start + CHUNK < len(waiting):
            report.caught_up = False
            break
    else:
        report.caught_up = len(waiting) < WEBHOOKS_PER_CALL
    if young:
        report.waited_for = len(young)
        deadline = started + max_seconds
        after = waiting[-1].name  # every young order's bodies up to here are in `young`
        record(
            *_after_waiting(young, inbox, after, ledger, report, listed_at, moment, clock, deadline, max_wait)
        )
    return report


def _after_waiting(
    young: Bodies,
    inbox: Inbox,
    after: str,
    ledger: Ledger,
    report: BodiesReport,
    listed_at: datetime,
    moment: Callable[[], datetime],
    clock: Clock,
    deadline: float,
    max_wait: float,
) -> tuple[list[ShopOrder], datetime]:
    """Wait until the young orders' newest versions are `SETTLE` old (within the budget), add
    their bodies that arrived since the listing, and decide them; returns the orders to record and
    the moment they count as read. A step that stopped at its budget does not wait (the next run
    follows at once): its young orders are recorded as read at the listing, unsettled."""
    newest = max(_newest_version(got) for got in young.values())
    if report.caught_up:
        wait = min((newest + SETTLE - moment()).total_seconds(), max_wait, deadline - clock.monotonic())
        if wait > 0:
            clock.sleep(wait)
            report.waited_seconds = round(wait, 3)
    read_at = moment()  # taken before the listing below: a body it misses arrived after this
    if not report.caught_up or not any(settled(_newest_version(got), read_at) for got in young.values()):
        return _decide(young, ledger, listed_at, report, None), listed_at
    # The bodies that arrived since the first listing, up to each order's waited-for version: a
    # newer change is the next run's (its listing starts after `after`) and does not unsettle this one.
    for oid, got in _bodies_of(inbox.since("shopify", after=after, limit=WEBHOOKS_PER_CALL)).items():
        if oid in young:
            upto = _newest_version(young[oid])
            young[oid].extend((name, body) for name, body in got if not _newer(body, upto))
    return _decide(young, ledger, read_at, report, None), read_at


def bodies_waiting(inbox: Inbox, after: str | None, limit: int = WAITING_LOOKAHEAD) -> dict[str, datetime]:
    """Order id: the newest version its bodies after the body step's cursor name (the first
    `limit` webhooks there): the poll leaves these to the next run's body step (`ingest.ingest`)."""
    waiting: dict[str, datetime] = {}
    for oid, got in _bodies_of(inbox.since("shopify", after=after, limit=limit)).items():
        versions = [v for _, body in got if (v := _version(body)) is not None]
        if versions:
            waiting[oid] = max(versions)
    return waiting


def _version(payload: dict[str, Any]) -> datetime | None:
    """The version a body names, or None when it names none readable (the mapping refuses it)."""
    try:
        return body_version(payload)
    except BodyRefused:
        return None


def _newer(payload: dict[str, Any], than: datetime) -> bool:
    version = _version(payload)
    return version is not None and version > than


def _newest_version(got: list[tuple[str, dict[str, Any]]]) -> datetime:
    """The newest version among an order's bodies (a young order's bodies were all mapped)."""
    return max(v for _, body in got if (v := _version(body)) is not None)


def _bodies_of(items: list[InboxItem]) -> Bodies:
    """The order bodies among these webhooks, by order."""
    bodies: Bodies = {}
    for item in items:
        event = item.load()
        payload = event.get("payload")
        if event.get("topic") not in ORDER_BODY_TOPICS or not isinstance(payload, dict):
            continue
        oid = order_id_of(payload)
        if oid is None:
            continue  # the read by id logs it: it names no order to read
        bodies.setdefault(oid, []).append((item.name, payload))
    return bodies


def _decide(
    bodies: Bodies, ledger: Ledger, read_at: datetime, report: BodiesReport, young: Bodies | None
) -> list[ShopOrder]:
    """The orders these bodies settle as read at `read_at`; the rest are left behind for the read
    by id. With `young`, an order whose body is too young to trust yet goes there instead (and so
    do its later bodies), to be decided at the end of the step."""
    if young is not None:
        for oid in [oid for oid in bodies if oid in young]:
            young[oid].extend(bodies.pop(oid))
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
            if young is not None and not settled(verdict.updated_at, read_at):
                young[oid] = got
            else:
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
        "bodies_waited_for_to_settle": report.waited_for,
        "bodies_wait_seconds": report.waited_seconds,
        "recorded_unsettled_read_by_id_next": report.recorded_unsettled,
        "bodies_caught_up": report.caught_up,
    }
