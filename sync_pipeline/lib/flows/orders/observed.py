"""The one way a Shopify read reaches the ledger: observe each order, store it, log the change.

Ingest (its poll and the orders webhooks name) and release (its re-read before releasing and
before pushing a change) all record what they read through `record_orders`. So whoever stores a
snapshot stores every column derived from it (state, cancelled_at, financial status, lines)
and its audit events, under the same state rules (`state.observe`): release can never act on a
version ingest would have judged differently.

Shopify's `updatedAt` has one-second resolution, so two changes in one second share a version.
A snapshot read less than `SETTLE` after its `updatedAt` may have missed a later change in that
second: it is *unsettled*, and nobody trusts its version until it has been read again (ingest's
cursor stays behind it, a webhook naming that second re-reads it, release reads it in full).
`SETTLE` is more than a second so that our clock may run a few seconds ahead of Shopify's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.records import aware, line_rows, naive, order_row, previous_from_row
from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

SETTLE = timedelta(seconds=5)


def settled(updated_at: datetime | None, read_at: datetime | None) -> bool:
    """True when a snapshot of version `updated_at` read at `read_at` cannot have missed a change."""
    if updated_at is None or read_at is None:
        return False
    return aware(read_at) >= aware(updated_at) + SETTLE  # type: ignore[operator]


def current_snapshot(row: OrderRow | None, version: datetime) -> ShopOrder | None:
    """The ledger's snapshot when it is known to be Shopify's version `version`, else None."""
    if row is None or not row.snapshot or row.shopify_updated_at is None:
        return None
    if aware(row.shopify_updated_at) != aware(version) or not settled(
        row.shopify_updated_at, row.snapshot_read_at
    ):
        return None
    return ShopOrder.model_validate(row.snapshot)


def _ours_is_newer(before: OrderRow, order: ShopOrder, read_at: datetime) -> bool:
    """Two reads of one version (the same second) may differ: the later read wins.

    A settled read is final for its second; between two unsettled reads the later one wins
    (both are read again anyway). Older versions are left to `state.observe`.
    """
    if before.shopify_updated_at != naive(order.updated_at):
        return True
    if settled(order.updated_at, read_at):
        return True
    if settled(before.shopify_updated_at, before.snapshot_read_at):
        return False
    return before.snapshot_read_at is None or naive(read_at) >= before.snapshot_read_at  # type: ignore[operator]


@dataclass
class Recorded:
    """What one `record_orders` call saw and changed."""

    read: int = 0
    changed: int = 0
    events: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    # The oldest version read too soon to be sure of (see `SETTLE`): read it again later.
    oldest_unsettled: datetime | None = None
    # When the earliest order this call left awaiting release comes due (aware, UTC): the
    # release sensor wakes then, without waiting for the ingest run to end.
    earliest_due: datetime | None = None


def record_orders(
    ledger: Ledger,
    orders: Sequence[ShopOrder],
    rules: BusinessRules,
    actor: str,
    now: datetime,
    read_at: datetime,
    from_body: bool = False,
) -> Recorded:
    """Observe fresh orders and write rows, lines and events in one transaction.

    `read_at` must not be later than the moment Shopify served the oldest of these orders;
    `from_body`: they come from webhook bodies, not a read (release checks more of them).
    """
    recorded = Recorded()
    with ledger.transaction() as con:
        known = ledger_orders.get_many(con, [o.id for o in orders])
        # Keyed by order id: a read by updated_at may serve an order edited mid-read twice; the
        # later copy is observed against the earlier one and wins (one row, one set of lines).
        rows: dict[str, OrderRow] = {}
        changed_orders: dict[str, ShopOrder] = {}
        new_events: list[OrderEvent] = []
        resolved: list[str] = []
        now_settled: list[str] = []
        for order in orders:
            recorded.read += 1
            if not settled(order.updated_at, read_at):
                version = aware(order.updated_at)
                if recorded.oldest_unsettled is None or version < recorded.oldest_unsettled:  # type: ignore[operator]
                    recorded.oldest_unsettled = version
            before = known.get(order.id)
            if before is not None and not _ours_is_newer(before, order, read_at):
                continue
            previous = previous_from_row(before) if before else None
            seen = state.observe(
                previous, order, now, rules.orders.hold_window_seconds, rules.orders.max_order_age_days
            )
            if not seen.changed:
                if (
                    before is not None
                    and before.shopify_updated_at == naive(order.updated_at)
                    and not settled(before.shopify_updated_at, before.snapshot_read_at)
                    and settled(order.updated_at, read_at)
                ):
                    now_settled.append(order.id)  # the same version, read after its second was over
                continue
            recorded.changed += 1
            rows[order.id] = known[order.id] = order_row(
                order, seen, rules.orders.sales_order_prefix, before, read_at, from_body
            )
            changed_orders[order.id] = order
            if seen.state == state.AWAITING_RELEASE and seen.release_due_at is not None:
                due = aware(seen.release_due_at)
                recorded.earliest_due = (
                    due if recorded.earliest_due is None else min(recorded.earliest_due, due)
                )
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
                recorded.states[seen.state] += 1
            if seen.state in (state.CANCELLED_BEFORE_RELEASE, state.AWAITING_RELEASE) and old_state in (
                state.HELD,
                state.INJECTION_FAILED,
            ):
                resolved.append(order.id)
            for e in seen.events:
                recorded.events[e.kind.value] += 1
        ledger_orders.upsert(con, rows.values())
        ledger_orders.replace_lines(
            con, list(changed_orders), [line for o in changed_orders.values() for line in line_rows(o)]
        )
        ledger_events.append(con, new_events)
        ledger_orders.mark_snapshots_read(con, [oid for oid in now_settled if oid not in rows], read_at)
        for order_id in resolved:
            ledger_exceptions.resolve_for_order(
                con, order_id, state.PRE_RELEASE_EXCEPTIONS, "order changed in Shopify; re-evaluated"
            )
    return recorded
