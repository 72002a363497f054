"""Fulfilments whose outcome is unknown (a crash or a lost answer): look before sending again.

Shopify's `fulfillmentCreate` takes no idempotency key, so the only safe retry is to read the
order's fulfilments and adopt the one that matches what we sent (same line items and quantities,
same tracking number, no other carrier named, created after our first attempt, not already
recorded for another package).
Found: recorded as created; no second fulfilment, no second email. Not found: planned again.
Rows younger than `settle_seconds` are left alone: a request still in flight at Shopify must not
be mistaken for one that never arrived. So is every row of an order with such a send in flight
(another fulfil run's, with the `shopify_fulfil` pool above 1): its fulfilment may already be in
Shopify with its answer on the way, and matched by lines and quantities it would be taken for the
in-doubt package's, leaving two packages on one fulfilment and one of them never sent. A verdict is
written only over the very attempt it looked up: another run may have settled the row, or sent the
package again, meanwhile.
"""

from __future__ import annotations

import time
from datetime import timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import ExistingFulfilment, Storefront
from sync_pipeline.lib.flows.despatches.record import (
    not_made,
    refresh_order_states,
    settle,
    take_corrected_lines,
)
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import Ledger, OrderEvent, utcnow
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.fulfilments import FulfilmentRow
from sync_pipeline.lib.ledger.records import to_naive_utc

SETTLE_SECONDS = 60.0
# Shopify's clock and ours may differ a little; a fulfilment "before" our attempt by less is ours.
CLOCK_SLACK = timedelta(seconds=120)


def _fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def _same_carrier(ours: str | None, theirs: tuple[str, ...]) -> bool:
    """A fulfilment naming another carrier than the one we sent is not ours (a person's, another
    app's): for a package sent without a tracking number, lines and quantities alone would take it,
    and the parcel would be recorded as fulfilled while Shopify never had it."""
    return not ours or not theirs or _fold(ours) in {_fold(t) for t in theirs}


def _match(
    row: FulfilmentRow, existing: list[ExistingFulfilment], claimed: set[str]
) -> ExistingFulfilment | None:
    for f in existing:
        created = to_naive_utc(f.created_at)
        if f.id in claimed or created is None or created < row.first_attempt_at - CLOCK_SLACK:
            continue
        if f.quantities != row.intent.line_quantities:
            continue
        if row.intent.tracking_number and row.intent.tracking_number not in f.tracking_numbers:
            continue
        if not _same_carrier(row.intent.tracking_company, f.tracking_companies):
            continue
        return f
    return None


def resolve_in_doubt(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    settle_seconds: float = SETTLE_SECONDS,
    deadline: float | None = None,
) -> bool:
    """Returns False when it stopped at `deadline` (time.monotonic()) with orders left to look up."""
    cutoff = utcnow() - timedelta(seconds=settle_seconds)
    with ledger.transaction() as con:
        sending = ledger_fulfilments.in_state(con, "sending", limit=5000)
        live = {r.intent.shopify_order_id for r in sending if r.last_attempt_at > cutoff}
        doubtful = [
            r for r in sending if r.last_attempt_at <= cutoff and r.intent.shopify_order_id not in live
        ]
        orders = list(dict.fromkeys(r.intent.shopify_order_id for r in doubtful))
        claimed = ledger_fulfilments.claimed_fulfillment_ids(con, orders)
    for index, oid in enumerate(orders):
        if index and deadline is not None and time.monotonic() >= deadline:
            return False
        existing = storefront.fulfilments_of(oid)
        rows = [r for r in doubtful if r.intent.shopify_order_id == oid]
        with ledger.transaction() as con:
            # Compare and set: a row another run settled or sent again since our read is left to it.
            current = ledger_fulfilments.still_sending(con, rows)
            rows = [r for r in rows if r.intent.package_number in current]
            if ledger_fulfilments.orders_sending_since(con, [oid], cutoff):
                rows = []  # a send of this order went out since our read: look again next run
            # Read again: another run's lookup (or a late answer) may have recorded one of this
            # order's fulfilments for another package since our first read; two packages on one
            # Shopify fulfilment would leave one of them never sent.
            claimed |= ledger_fulfilments.claimed_fulfillment_ids(con, [oid]) if rows else set()
            events = []
            for row in rows:
                number = row.intent.package_number
                found = _match(row, existing, claimed)
                if found is not None:
                    claimed.add(found.id)
                    ledger_despatches.drop_reported_items(con, [number])  # Shopify holds what was sent
                    package = ledger_despatches.get_many(con, [number])[number]
                    ledger_fulfilments.mark_created(
                        con, number, found.id, found.name, row.intent.tracking_number
                    )
                    settle(
                        con,
                        number,
                        states.FULFILLED,
                        f"found in Shopify as {found.name}",
                        package.line_quantities or {},
                    )
                    # As an answer does (`answers._record`): the numbers it went with are in
                    # Shopify, its own and its pooled parcels' (until 2026-12-01 a lookup left those
                    # parcels' `tracking_missing` open for good).
                    riders = ledger_despatches.carried_by(con, [number]).get(number, [])
                    tracked = [number] * bool(row.intent.tracking_number) + [
                        q.package_number for q in riders if q.carried_number
                    ]
                    ledger_exceptions.resolve_for_subjects(
                        con, ["tracking_missing"], tracked, "tracking sent"
                    )
                    events.append(OrderEvent(oid, "fulfilled", actor,
                                             reason=f"{number}: found in Shopify as {found.name} after an unknown outcome"))  # fmt: skip
                    report.in_doubt["found_in_shopify"] += 1
                else:
                    ledger_fulfilments.mark_failed(
                        con, number, "not in Shopify after an unknown outcome; planned again"
                    )
                    # Lines Peoplevox corrected while it was in doubt are the ones that go now
                    # (until 2026-12-01 the old ones went, and ops were told it had gone as those).
                    take_corrected_lines(con, [number], "not in Shopify after all")
                    ledger_despatches.set_state(
                        con, number, states.PENDING, "planned again after an unknown outcome", {}, {}
                    )
                    not_made(con, [number], "not in Shopify after an unknown outcome")
                    report.in_doubt["planned_again"] += 1
            ledger_events.append(con, events)
            refresh_order_states(con, [oid], rules, actor)
    return True
