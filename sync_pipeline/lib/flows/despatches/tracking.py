"""Late tracking numbers: a package fulfilled without one gets it with fulfillmentTrackingInfoUpdate.

A pooled parcel's number that arrives after the fulfilment carrying it was sent (`plan.py`) is
added the same way, with every other number that fulfilment carries (the update replaces them).

The update does not notify the customer (they had the package's shipping email already; a second
email per package is what this flow promises never to send). The number shows on the order
status page and in the customer's account from then on.
"""

from __future__ import annotations

import time
from dataclasses import replace

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.tracking import Tracking, carrying, tracking_for
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import (
    FulfilmentNotSentError,
    FulfilmentOutcomeUnknownError,
    FulfilmentRefusedError,
    Storefront,
)
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.fulfilments import FulfilmentRow


def _awaiting(
    ledger: Ledger,
) -> tuple[list[FulfilmentRow], dict[str, PackageRow], dict[str, list[PackageRow]]]:
    """Fulfilments to update: created without their package's number, which has one now, or
    carrying a pooled parcel whose number arrived after they were sent. With their packages, and
    the pooled packages each carries."""
    with ledger.transaction() as con:
        rows = ledger_fulfilments.created_awaiting_tracking(con)
        carriers = [n for n in ledger_despatches.carriers_with_new_tracking(con)
                    if n not in {r.intent.package_number for r in rows}]  # fmt: skip
        packages = ledger_despatches.get_many(con, [r.intent.package_number for r in rows] + carriers)
        orders = {packages[n].shopify_order_id or "" for n in carriers if n in packages}
        rows += [
            r
            for found in ledger_fulfilments.for_orders(con, orders).values()
            for r in found
            if r.intent.package_number in carriers and r.state == "created"
        ]
        pooled = ledger_despatches.carried_by(con, [r.intent.package_number for r in rows])
    return rows, packages, pooled


def post_late_tracking(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    deadline: float | None = None,
) -> bool:
    """Returns False when it stopped at `deadline` (time.monotonic()) with numbers left to add, or
    Shopify did not take an update (throttled until the client gave up, no answer): that one is
    left for the next run, as it was never recorded. An update replaces the fulfilment's tracking,
    so it sends every number the fulfilment carries: its own package's and its pooled parcels'
    (`plan.py`)."""
    rows, packages, pooled = _awaiting(ledger)
    left = False
    for index, row in enumerate(rows):
        if index and deadline is not None and time.monotonic() >= deadline:
            return False
        number = row.intent.package_number
        package = packages[number]
        riders = pooled.get(number, [])
        own = tracking_for(rules.carriers, package.carrier, package.service, package.tracking_number)
        fresh = [q for q in riders if q.tracking_number and q.tracking_number != q.carried_number]
        # Shopify refused this parcel's own number: a pooled parcel's later number goes with what
        # Shopify holds instead. Sent with the refused number, it was refused too and recorded as
        # carried, so it never reached Shopify (until 2026-12-01).
        refused_own = own.number is not None and own.number == row.tracking_refused_number
        if refused_own:
            own = _as_shopify_holds(row, own)
        if row.fulfillment_id is None or ((own.number is None or refused_own) and not fresh):
            continue
        tracking = carrying(own, tuple(
            tracking_for(rules.carriers, q.carrier, q.service, q.tracking_number) for q in riders
        )) or own  # fmt: skip
        sent = [(q.package_number, number, q.tracking_number) for q in riders if q.tracking_number]
        shown = ", ".join(tracking.numbers_and_urls()[0])
        try:
            storefront.add_tracking(row.fulfillment_id, tracking)
        except (FulfilmentNotSentError, FulfilmentOutcomeUnknownError):
            # Safe to send again (same numbers, no email): the next run does, the others go on.
            # (Until 2026-12-01 this failed the whole fulfil step after its fulfilments were made.)
            left = True
            continue
        except FulfilmentRefusedError as error:
            # The fulfilment is in Shopify whatever Shopify thought of the number: the row stays
            # `created` (marking it failed made the ledger disagree with Shopify), the refusal is an
            # exception warehouse ops own, and these numbers are not sent again every run.
            with ledger.transaction() as con:
                if own.number and not refused_own:  # the number as sent (trimmed): a relabel is still offered
                    ledger_fulfilments.tracking_refused(con, number, own.number, str(error))
                ledger_despatches.carry(con, sent)
                ledger_exceptions.open_or_touch(
                    con,
                    [ExceptionRecord(
                        kind="tracking_refused",
                        owner=states.OWNERS["tracking_refused"],
                        message=f"Shopify refused tracking {tracking.company} {shown} for package "
                                f"{number} ({row.fulfillment_name}): {error}",
                        shopify_order_id=row.intent.shopify_order_id,
                        sales_order_number=package.sales_order_number,
                        subject=number,
                    )],
                )  # fmt: skip
            report.tracking_refused += 1
            continue
        posted_own = own.number is not None and not refused_own
        with ledger.transaction() as con:
            if posted_own:
                ledger_fulfilments.set_tracking(con, number, own.number, tracking.company, own.url)
            ledger_despatches.carry(con, sent)
            for subject in [number] * posted_own + [q.package_number for q in fresh]:
                ledger_exceptions.resolve_for_subject(
                    con, ["tracking_missing"], subject, "tracking added in Shopify"
                )
            ledger_events.append(
                con,
                [OrderEvent(row.intent.shopify_order_id, "tracking_added", actor,
                            reason=f"{number}: tracking {tracking.company} {shown} added to {row.fulfillment_name}")],
            )  # fmt: skip
        report.tracking_added += 1
    return not left


def _as_shopify_holds(row: FulfilmentRow, own: Tracking) -> Tracking:
    """The parcel's own tracking as Shopify holds it on this fulfilment (the number last posted, or
    none): an update replaces every number, so leaving it out would take a posted one away."""
    i = row.intent
    if row.tracking_posted_at is not None and i.tracking_number:
        return Tracking(i.tracking_company, i.tracking_number, i.tracking_url, known_carrier=True)
    return replace(own, number=None, url=None)
