"""Fulfilments of ours that someone cancelled in Shopify (`fulfillmentCancel`, in the admin).

How the ledger learns it: the product subscribes to `orders/updated` (and polls), and a cancel
moves the order's `updatedAt`, so the orders ingest records a version of the order newer than
anything our own writes explain. Each fulfil step reads the fulfilments of up to `CHECKS_PER_RUN`
such orders (`ledger.fulfilment_checks`; one small read each) and compares Shopify's `status` with
our `created` rows. (`fulfillments/update` would name the fulfilment directly, but nothing
subscribes to it yet, and a lost webhook would lose the cancel; the order's version is read either
way.)

What a user expects, and what we assume (docs/despatches_flow.md, "Cancelled in Shopify"): a
cancelled fulfilment means the customer's parcel is no longer shown as shipped, while Peoplevox
still says it left the warehouse. Someone did it on purpose (a parcel lost or returned to sender, a
mistaken fulfilment) or by mistake; only a person can tell which. So the flow never fulfils the
package again by itself (that would send the customer a second shipping email): the fulfilment
becomes `cancelled` in `shopify_fulfilments`, the package `cancelled_in_shopify` (not open, not
settled: its order is `despatched`, no longer `fulfilled`), and CX get one
`fulfilment_cancelled_in_shopify` exception per package, resolved by a person.
"""

from __future__ import annotations

import logging
import time

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import ExistingFulfilment, ShopifyNotReadError, Storefront
from sync_pipeline.lib.flows.despatches.record import refresh_order_states
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, fulfilment_checks
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.fulfilments import FulfilmentRow

KIND = "fulfilment_cancelled_in_shopify"
CHECKS_PER_RUN = 50
log = logging.getLogger(__name__)


def _problem(row: FulfilmentRow, sales_order: str | None) -> ExceptionRecord:
    return ExceptionRecord(
        kind=KIND,
        owner=states.OWNERS[KIND],
        message=f"Shopify fulfilment {row.fulfillment_name or row.fulfillment_id} of package "
        f"{row.intent.package_number} was cancelled in Shopify after we made it; Peoplevox says the parcel "
        "left the warehouse. The integration will not fulfil it again by itself (a second shipping email)",
        shopify_order_id=row.intent.shopify_order_id,
        sales_order_number=sales_order,
        subject=row.intent.package_number,
    )


def notice_cancelled_fulfilments(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    deadline: float,
) -> None:
    """Read the fulfilments of orders changed since our last write to them (until `deadline`: the
    rest wait for the next run) and record any of ours Shopify now shows CANCELLED. Past the
    deadline (usual at a peak) it does not even look for candidates: that query holds the ledger
    lock every process shares, for nothing."""
    if time.monotonic() >= deadline:
        return
    with ledger.transaction() as con:
        candidates = fulfilment_checks.changed_since_fulfilled(con, CHECKS_PER_RUN)
    read: dict[str, list[ExistingFulfilment]] = {}
    checked = []
    for oid, version in candidates:
        if time.monotonic() >= deadline:
            break
        try:
            read[oid] = storefront.fulfilments_of(oid)
        except ShopifyNotReadError as error:  # throttled: the next run checks it
            log.warning("fulfilments of %s not read (%s); checked next run", oid, error)
            report.cancel_checks_not_read += len(candidates) - len(checked)
            break
        checked.append((oid, version))
    if not checked:
        return
    with ledger.transaction() as con:
        ours = ledger_fulfilments.for_orders(con, read)
        packages = ledger_despatches.get_many(
            con, [r.intent.package_number for rows in ours.values() for r in rows]
        )
        cancelled = [
            row
            for oid, rows in ours.items()
            for row in rows
            if row.state == "created"
            and any(f.id == row.fulfillment_id and f.status == "CANCELLED" for f in read[oid])
        ]
        numbers = [r.intent.package_number for r in cancelled]
        why = "cancelled in Shopify after we created it"
        fulfilment_checks.mark_cancelled(con, numbers, why)
        # Its tracking can no longer be posted (the late-tracking read looks at created fulfilments only).
        ledger_exceptions.resolve_for_subjects(con, ["tracking_missing"], numbers, why)
        ledger_despatches.set_states(
            con, [ledger_despatches.StateChange(n, states.CANCELLED_IN_SHOPIFY, why) for n in numbers]
        )
        report.exceptions_opened += ledger_exceptions.open_or_touch(
            con,
            [_problem(r, p.sales_order_number if (p := packages.get(r.intent.package_number)) else None)
             for r in cancelled],
        )  # fmt: skip
        ledger_events.append(
            con,
            [OrderEvent(r.intent.shopify_order_id, KIND, actor,
                        reason=f"{r.intent.package_number}: Shopify fulfilment {r.fulfillment_name} cancelled")
             for r in cancelled],
        )  # fmt: skip
        refresh_order_states(
            con, sorted({r.intent.shopify_order_id for r in cancelled}), rules, actor, report.order_states
        )
        fulfilment_checks.mark_checked(con, checked)
    report.fulfilments_cancelled += len(cancelled)
