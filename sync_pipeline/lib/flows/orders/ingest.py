"""Ingest: read Shopify orders changed since the cursor (or a backfill window) into the ledger.

Every change observed becomes an `order_events` row; each order's state moves on by
`state.observe`. Reading the same orders twice is harmless: an unchanged order writes nothing,
so a backfill re-reads and re-reconciles without duplicating anything downstream.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import OrdersSource
from sync_pipeline.lib.flows.orders.records import aware, line_rows, order_row, previous_from_row
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

CURSOR = "shopify_orders_updated_at"
# Re-read a little before the cursor: Shopify's updated_at index is eventually consistent, and
# an unchanged order costs nothing to see twice.
CURSOR_OVERLAP = timedelta(seconds=30)
# Orders per ledger transaction: small enough to keep each lock short.
CHUNK = 250
# One incremental run's share of a backlog (see `ingest`).
MAX_CHANGED_ORDERS_PER_RUN = 3000
MAX_SECONDS_PER_RUN = 90.0
HOLD_KINDS = ("unmapped_sku", "bad_address", "injection_failed")


@dataclass
class IngestReport:
    orders_read: int = 0
    orders_changed: int = 0
    events: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    cursor: str | None = None
    next_release_due_at: datetime | None = None
    pending_changes: int = 0
    caught_up: bool = True


def _chunks(orders: Iterable[ShopOrder], size: int) -> Iterator[list[ShopOrder]]:
    iterator = iter(orders)
    while chunk := list(islice(iterator, size)):
        yield chunk


def record_orders(
    ledger: Ledger,
    orders: list[ShopOrder],
    rules: BusinessRules,
    actor: str,
    now: datetime,
    report: IngestReport,
) -> None:
    """Observe one chunk of fresh orders and write rows, lines, events in one transaction."""
    with ledger.transaction() as con:
        known = ledger_orders.get_many(con, [o.id for o in orders])
        # Keyed by order id: a read by updated_at may serve an order edited mid-read twice; the
        # later copy is observed against the earlier one and wins (one row, one set of lines).
        rows: dict[str, OrderRow] = {}
        changed_orders: dict[str, ShopOrder] = {}
        new_events, resolved = [], []
        for order in orders:
            before = known.get(order.id)
            previous = previous_from_row(before) if before else None
            seen = state.observe(
                previous, order, now, rules.orders.hold_window_seconds, rules.orders.max_order_age_days
            )
            report.orders_read += 1
            if not seen.changed:
                continue
            report.orders_changed += 1
            rows[order.id] = known[order.id] = order_row(order, seen, rules.orders.sales_order_prefix, before)
            changed_orders[order.id] = order
            if before is None:
                new_events.append(
                    OrderEvent(order.id, "seen", actor, reason=f"{order.name} first read from Shopify")
                )
            new_events.extend(
                OrderEvent(order.id, e.kind.value, actor, reason=e.message) for e in seen.events
            )
            old_state = before.state if before else None
            if seen.state != old_state:
                new_events.append(
                    OrderEvent(
                        order.id, "state_changed", actor, reason=f"{old_state or 'new'} → {seen.state}"
                    )
                )
                report.states[seen.state] += 1
            if seen.state in (state.CANCELLED_BEFORE_RELEASE, state.AWAITING_RELEASE) and old_state in (
                state.HELD,
                state.INJECTION_FAILED,
            ):
                resolved.append(order.id)
            for e in seen.events:
                report.events[e.kind.value] += 1
        ledger_orders.upsert(con, rows.values())
        ledger_orders.replace_lines(
            con, list(changed_orders), [line for o in changed_orders.values() for line in line_rows(o)]
        )
        ledger_events.append(con, new_events)
        for order_id in resolved:
            ledger_exceptions.resolve_for_order(
                con, order_id, HOLD_KINDS, "order changed in Shopify; re-evaluated"
            )


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
) -> IngestReport:
    """Incremental by default; with `window`, re-read orders created in [start, end) (backfill).

    An incremental read stops after `max_changed_orders` changed orders or `max_seconds`, once it
    has moved past the stored cursor: during a flash sale orders arrive as fast as they can be
    read, and a run that never ends would hold back release, whose sensor waits for its result.
    The report says `caught_up=False` and the sensor launches the next batch straight away.
    """
    report = IngestReport()
    started = time.monotonic()
    stored = ledger.get_cursor(CURSOR)
    if window is not None:
        orders: Iterable[ShopOrder] = source.orders_created_between(*window)
    else:
        since = datetime.fromisoformat(stored) - CURSOR_OVERLAP if stored else now - initial_lookback
        orders = source.orders_updated_since(since)
    newest: datetime | None = None
    for chunk in _chunks(orders, CHUNK):
        record_orders(ledger, chunk, rules, actor, now, report)
        newest = max([newest or aware(chunk[0].updated_at), *(aware(o.updated_at) for o in chunk)])  # type: ignore[type-var]
        if window is None and newest is not None:
            # Advance after each chunk is committed: a crash re-reads at most one chunk.
            ledger.set_cursor(CURSOR, newest.isoformat())
            progressed = stored is None or newest > datetime.fromisoformat(stored)
            over_budget = (
                report.orders_changed >= max_changed_orders or time.monotonic() - started >= max_seconds
            )
            if progressed and over_budget:
                report.caught_up = False
                break
    # A backfill leaves the cursor alone, so it reports the stored one, not the window's newest.
    report.cursor = newest.isoformat() if newest and window is None else ledger.get_cursor(CURSOR)
    summarize(ledger, report)
    return report


def summarize(ledger: Ledger, report: IngestReport) -> None:
    with ledger.transaction() as con:
        report.next_release_due_at = ledger_orders.next_release_due(con, state.AWAITING_RELEASE)
        report.pending_changes = len(ledger_orders.with_pending_change(con))


WEBHOOK_CURSOR = "inbox_shopify_ingest"


def ingest_notified(
    inbox: Inbox, source: OrdersSource, ledger: Ledger, rules: BusinessRules, actor: str, now: datetime
) -> int:
    """Read by id every order a webhook named that the ledger does not hold at that version yet.

    Webhooks mostly just wake the poll; but Shopify's search index can lag, and an order it
    shows late, after newer orders moved the cursor past the overlap, would otherwise never be
    read. In steady state the search read has already recorded these, so this costs nothing.
    Returns how many orders were read by id.
    """
    items = inbox.since("shopify", after=ledger.get_cursor(WEBHOOK_CURSOR), limit=20_000)
    if not items:
        return 0
    notified: dict[str, datetime] = {}
    for item in items:
        payload = item.load().get("payload") or {}
        order_id, updated = payload.get("admin_graphql_api_id"), payload.get("updated_at")
        if not isinstance(order_id, str) or not order_id.startswith("gid://shopify/Order/"):
            continue
        try:
            moment = aware(datetime.fromisoformat(str(updated))) if updated else now
        except ValueError:
            moment = now
        notified[order_id] = max(moment, notified.get(order_id, moment))
    with ledger.transaction() as con:
        known = ledger_orders.get_many(con, notified)
    behind = [
        oid
        for oid, moment in notified.items()
        if oid not in known
        or known[oid].shopify_updated_at is None
        or aware(known[oid].shopify_updated_at) < moment  # type: ignore[operator]
    ]
    report = IngestReport()
    for start in range(0, len(behind), CHUNK):
        fresh = source.orders_by_ids(behind[start : start + CHUNK])
        if fresh:
            record_orders(ledger, list(fresh.values()), rules, actor, now, report)
    ledger.set_cursor(WEBHOOK_CURSOR, items[-1].name)
    return len(behind)
