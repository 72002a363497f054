"""Ingest: read Shopify orders changed since the cursor (or a backfill window) into the ledger.

Every change observed becomes an `order_events` row; each order's state moves on by
`state.observe`. Reading the same orders twice is harmless: an unchanged order writes nothing,
so a backfill re-reads and re-reconciles without duplicating anything downstream.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import changes, state
from sync_pipeline.lib.flows.orders.observed import Recorded, record_orders, settled
from sync_pipeline.lib.flows.orders.ports import OrdersSource
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.flows.orders.webhook_order import ORDER_GID
from sync_pipeline.lib.inbox import Inbox, InboxItem
from sync_pipeline.lib.ledger import Ledger, own_versions
from sync_pipeline.lib.ledger import orders as ledger_orders

log = logging.getLogger(__name__)

CURSOR = "shopify_orders_updated_at"
# Re-read a little before the cursor: Shopify's updated_at index is eventually consistent, and
# an unchanged order costs nothing to see twice.
CURSOR_OVERLAP = timedelta(seconds=30)
# Orders per ledger transaction: small enough to keep each lock short.
CHUNK = 250
# One incremental run's share of a backlog (see `ingest`).
MAX_CHANGED_ORDERS_PER_RUN = 3000
MAX_SECONDS_PER_RUN = 90.0
# A live read's budget (poll and reads by id together): it holds the `shopify_orders` pool, which
# the next ingest run waits for, so it hands the pool on this often during a sale. In the
# 1,500-a-minute rehearsal (then one `shopify_api` pool, which fulfilments and stock pushes waited
# for too) one run held it 4 min 25 s and no shipping email went out meanwhile.
LIVE_READ_SECONDS = 30.0
# Told of each chunk as it is committed (the defs layer passes on when its orders come due).
OnRecorded = Callable[[Recorded], None]


@dataclass
class IngestReport:
    orders_read: int = 0  # read in full (and recorded)
    orders_changed: int = 0
    orders_listed: int = 0  # listed as changed (the poll's cheap listing, or a backfill's read)
    orders_only_ours: int = 0  # listed, but changed only by our own fulfilment: not read again
    events: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    cursor: str | None = None
    next_release_due_at: datetime | None = None
    pending_changes: int = 0
    caught_up: bool = True
    orders_left_to_bodies: int = 0  # listed, but a body of that version waits in the inbox: not read

    def add(self, recorded: Recorded) -> None:
        self.orders_read += recorded.read
        self.orders_changed += recorded.changed
        self.events.update(recorded.events)
        self.states.update(recorded.states)


def ingest(
    source: OrdersSource,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
    initial_lookback: timedelta = timedelta(days=2),
    max_changed_orders: int = MAX_CHANGED_ORDERS_PER_RUN,
    max_seconds: float = MAX_SECONDS_PER_RUN,
    on_recorded: OnRecorded | None = None,
    bodies_waiting: Mapping[str, datetime] | None = None,
) -> IngestReport:
    """Incremental by default; with `window`, re-read orders created in [start, end) (backfill).

    An incremental read stops after `max_changed_orders` changed orders or `max_seconds`, once it
    has moved past the stored cursor or read a chunk in full: during a flash sale orders arrive as
    fast as they can be read, and a run that never ends would hold back release, whose sensor
    waits for its result, and the next ingest run waiting for the `shopify_orders` pool.
    The report says `caught_up=False` and the sensor launches the next batch straight away.
    `on_recorded` hears of each chunk as it is committed (the run's report comes only at its end).
    `bodies_waiting` (order id: the newest version of its webhook bodies the body step has not
    taken yet, `bodies.bodies_waiting`): an order listed at that version or an older one is not read
    in full; the next run's body step records it with no read, where a read now, seconds after its
    change, would be unsettled and read again. The cursor stays where the next poll lists it again.
    """
    report = IngestReport()
    stored = ledger.get_cursor(CURSOR)
    report.cursor = stored
    if window is not None:
        _record_window(source.orders_created_between(*window), ledger, rules, actor, now, report)
    else:
        since = datetime.fromisoformat(stored) - CURSOR_OVERLAP if stored else now - initial_lookback
        _poll(
            source,
            since,
            stored,
            ledger,
            rules,
            actor,
            now,
            report,
            max_changed_orders,
            max_seconds,
            on_recorded,
            bodies_waiting,
        )
    # A backfill leaves the cursor alone, so it reports the stored one, not the window's newest.
    summarize(ledger, report)
    return report


def _record_window(
    orders: Iterable[ShopOrder], ledger: Ledger, rules: BusinessRules, actor: str, now: datetime,
    report: IngestReport,
) -> None:  # fmt: skip
    """A backfill reads the window's orders in full and re-reconciles each; the cursor stays."""
    iterator = iter(orders)
    while chunk := list(islice(iterator, CHUNK)):
        report.orders_listed += len(chunk)
        report.add(record_orders(ledger, chunk, rules, actor, now, read_at=now))


def _poll(
    source: OrdersSource,
    since: datetime,
    stored: str | None,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    report: IngestReport,
    max_changed_orders: int,
    max_seconds: float,
    on_recorded: OnRecorded | None = None,
    bodies_waiting: Mapping[str, datetime] | None = None,
) -> None:
    """List the orders changed since `since` cheaply, read in full those the ledger does not hold
    already (`changes.read_in_full`), record them, and move the cursor after each chunk."""
    started = time.monotonic()
    bodies = bodies_waiting or {}

    def moment() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    newest: datetime | None = None
    unsettled: datetime | None = None
    iterator = iter(source.order_changes_since(since))
    # A page fetched while one chunk was gathered may feed the next: the earliest moment any
    # order of a chunk can have been listed is when the chunk before it began to be gathered.
    earlier_start = this_start = now
    while chunk := list(islice(iterator, CHUNK)):
        listed_at = earlier_start
        earlier_start, this_start = this_start, moment()
        ids = [c.id for c in chunk]
        with ledger.transaction() as con:
            known = ledger_orders.get_many(con, ids)
            ours = own_versions.of(con, ids)
        stale = list(
            dict.fromkeys(c.id for c in chunk if changes.read_in_full(c, known.get(c.id), ours.get(c.id)))
        )
        waiting = {
            c.id: aware(c.updated_at)
            for c in chunk
            if c.id in stale and c.id in bodies and aware(c.updated_at) <= aware(bodies[c.id])  # type: ignore[operator]
        }
        if waiting:
            stale = [oid for oid in stale if oid not in waiting]
            report.orders_left_to_bodies += len(waiting)
            oldest = min(waiting.values())  # type: ignore[type-var]
            unsettled = oldest if unsettled is None else min(unsettled, oldest)  # type: ignore[type-var]
        report.orders_listed += len(chunk)
        for c in chunk:
            if c.id not in stale and changes.only_ours(c, known.get(c.id), ours.get(c.id)):
                report.orders_only_ours += 1
                # The listing was too soon to rule out a second change in that second: keep it in
                # the next poll's overlap, so its free fields are compared once the second is over.
                if not settled(c.updated_at, listed_at):
                    version = aware(c.updated_at)
                    unsettled = version if unsettled is None else min(unsettled, version)  # type: ignore[type-var]
        if stale:
            fresh = source.orders_by_ids(stale)
            # The listing's lower bound serves the full read too: earlier is always safe (a read
            # counts as settled later, never sooner), and a first chunk reads as of `now` exactly.
            recorded = record_orders(ledger, list(fresh.values()), rules, actor, now, read_at=listed_at)
            report.add(recorded)
            if on_recorded is not None:
                on_recorded(recorded)
            if recorded.oldest_unsettled is not None:
                unsettled = min(unsettled or recorded.oldest_unsettled, recorded.oldest_unsettled)
        newest = max([newest or aware(chunk[0].updated_at), *(aware(c.updated_at) for c in chunk)])  # type: ignore[type-var]
        assert newest is not None
        # Never so far past a version read within its own second that the next poll's overlap
        # misses it: a second change in that second keeps the same updatedAt.
        cursor = newest if unsettled is None else min(newest, unsettled + CURSOR_OVERLAP)
        # Never back: the first chunks re-read the overlap before the stored cursor. (An
        # unsettled version read here is at most the overlap before it, so it stays covered.)
        if stored is not None:
            cursor = max(cursor, datetime.fromisoformat(stored))
        # Advance after each chunk is committed: a crash re-reads at most one chunk.
        if cursor.isoformat() != report.cursor:
            report.cursor = cursor.isoformat()
            ledger.set_cursor(CURSOR, report.cursor)
        progressed = stored is None or cursor > datetime.fromisoformat(stored)
        over_budget = report.orders_changed >= max_changed_orders or time.monotonic() - started >= max_seconds
        # Stop at the budget once this run has got somewhere: moved the cursor, or read orders in
        # full (recorded, so the next run lists them as known and goes past them cheaply). A
        # chunk of orders already known costs only its listing: read on through it, or every run
        # would stop in the same place (issue 17).
        if over_budget and (progressed or stale):
            report.caught_up = False
            return


def summarize(ledger: Ledger, report: IngestReport) -> None:
    with ledger.transaction() as con:
        report.next_release_due_at = ledger_orders.next_release_due(con, state.AWAITING_RELEASE)
        report.pending_changes = len(ledger_orders.with_pending_change(con))


WEBHOOK_CURSOR = "inbox_shopify_ingest"
WEBHOOKS_PER_CALL = 20_000


def order_webhook(event: dict) -> bool:
    """An `orders/*` webhook. The Shopify inbox holds every topic sent to the one webhook URL,
    `bulk_operations/finish` too, which names a bulk operation, not an order."""
    return str(event.get("topic", "")).startswith("orders/")


@dataclass
class NotifiedReport:
    read: int = 0  # orders read by id
    caught_up: bool = True  # False: stopped at its budget with webhooks left


def ingest_notified(
    inbox: Inbox,
    source: OrdersSource,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    max_seconds: float = MAX_SECONDS_PER_RUN,
    on_recorded: OnRecorded | None = None,
    until: str | None = None,
) -> NotifiedReport:
    """Read by id every order a webhook named that the ledger does not hold at that version yet.

    Webhooks mostly just wake the poll; but Shopify's search index can lag, and an order it
    shows late, after newer orders moved the cursor past the overlap, would otherwise never be
    read. In steady state the search read has already recorded these, so this costs nothing.
    Webhooks are taken `CHUNK` at a time, the inbox cursor moving after each; after
    `max_seconds` it stops (at least one chunk is always done) and says it has not caught up.
    With `until` (the webhook `bodies.record_bodies` got to), it stops there: a later webhook's
    body is recorded by the next run's body step, for nothing, rather than read by id here.
    """
    report, started = NotifiedReport(), time.monotonic()
    # One directory listing per call: a sale leaves tens of thousands of webhooks in the inbox.
    waiting = inbox.since("shopify", after=ledger.get_cursor(WEBHOOK_CURSOR), limit=WEBHOOKS_PER_CALL)
    if until is not None:
        waiting = [item for item in waiting if item.name <= until]
    for start in range(0, len(waiting), CHUNK):
        items = waiting[start : start + CHUNK]
        read_at = now + timedelta(seconds=time.monotonic() - started)
        behind = _behind_of(items, ledger, now)
        if behind:
            fresh = source.orders_by_ids(behind)
            if fresh:
                recorded = record_orders(ledger, list(fresh.values()), rules, actor, now, read_at)
                if on_recorded is not None:
                    on_recorded(recorded)
            report.read += len(behind)
        ledger.set_cursor(WEBHOOK_CURSOR, items[-1].name)
        if time.monotonic() - started >= max_seconds and start + CHUNK < len(waiting):
            report.caught_up = False
            break
    else:
        report.caught_up = len(waiting) < WEBHOOKS_PER_CALL  # a full listing may have left more
    return report


def _behind_of(items: Iterable[InboxItem], ledger: Ledger, now: datetime) -> list[str]:
    """The orders `items`' webhooks named that the ledger does not hold at the named version."""
    notified: dict[str, datetime] = {}
    for item in items:
        event = item.load()
        if not order_webhook(event):
            continue
        payload = event.get("payload") or {}
        if event.get("topic") == "orders/edited" and "order_edit" in payload:
            # An order edit, not the order: the `orders/updated` Shopify sends for the same edit
            # names the order and its version.
            continue
        order_id, updated = payload.get("admin_graphql_api_id"), payload.get("updated_at")
        if not isinstance(order_id, str) or not ORDER_GID.fullmatch(order_id):
            # Shopify refuses a whole by-id query over one id that is not a global id: skipped,
            # or every later webhook would wait behind it (polling still reads that order).
            log.warning("inbox %s: webhook names no order id (%r); skipped", item.name, order_id)
            continue
        try:
            moment = aware(datetime.fromisoformat(str(updated))) if updated else now
        except ValueError:
            moment = now
        notified[order_id] = max(moment, notified.get(order_id, moment))
    if not notified:
        return []
    with ledger.transaction() as con:
        known = ledger_orders.get_many(con, notified)
        ours = own_versions.of(con, notified)
    return [oid for oid, moment in notified.items() if _behind(known.get(oid), moment, ours.get(oid))]


def _behind(
    row: ledger_orders.OrderRow | None, notified_version: datetime, own_version: datetime | None = None
) -> bool:
    """The ledger may not hold the version a webhook named: unknown, older, or the same second
    read before that second was over (a second change in it keeps the same updatedAt). The
    version our own fulfilment produced is left to the poll, which compares its free fields."""
    if row is None or row.shopify_updated_at is None:
        return True
    if (
        own_version is not None
        and aware(own_version) == aware(notified_version)
        and changes.held_version(row)
    ):
        return False
    held = aware(row.shopify_updated_at)
    if held < notified_version:  # type: ignore[operator]
        return True
    return held == notified_version and not settled(row.shopify_updated_at, row.snapshot_read_at)
