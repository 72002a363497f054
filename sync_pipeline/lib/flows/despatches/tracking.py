"""Late tracking numbers: a package fulfilled without one gets it with fulfillmentTrackingInfoUpdate.

The update does not notify the customer (they had the package's shipping email already; a second
email per package is what this flow promises never to send). The number shows on the order
status page and in the customer's account from then on.
"""

from __future__ import annotations

import time

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.tracking import tracking_for
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import FulfilmentRefusedError, Storefront
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments


def post_late_tracking(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    deadline: float | None = None,
) -> bool:
    """Returns False when it stopped at `deadline` (time.monotonic()) with numbers left to add."""
    with ledger.transaction() as con:
        rows = ledger_fulfilments.created_awaiting_tracking(con)
        packages = ledger_despatches.get_many(con, [r.intent.package_number for r in rows])
    for index, row in enumerate(rows):
        if index and deadline is not None and time.monotonic() >= deadline:
            return False
        number = row.intent.package_number
        package = packages[number]
        tracking = tracking_for(rules.carriers, package.carrier, package.service, package.tracking_number)
        if row.fulfillment_id is None or tracking.number is None:
            continue
        try:
            storefront.add_tracking(row.fulfillment_id, tracking)
        except FulfilmentRefusedError as error:
            # The fulfilment is in Shopify whatever Shopify thought of the number: the row stays
            # `created` (marking it failed made the ledger disagree with Shopify), the refusal is an
            # exception warehouse ops own, and this number is not sent again every run.
            with ledger.transaction() as con:
                ledger_fulfilments.tracking_refused(con, number, tracking.number, str(error))
                ledger_exceptions.open_or_touch(
                    con,
                    [ExceptionRecord(
                        kind="tracking_refused",
                        owner=states.OWNERS["tracking_refused"],
                        message=f"Shopify refused tracking {tracking.company} {tracking.number} for package "
                                f"{number} ({row.fulfillment_name}): {error}",
                        shopify_order_id=row.intent.shopify_order_id,
                        sales_order_number=package.sales_order_number,
                        subject=number,
                    )],
                )  # fmt: skip
            report.tracking_refused += 1
            continue
        with ledger.transaction() as con:
            ledger_fulfilments.set_tracking(con, number, tracking.number, tracking.company, tracking.url)
            ledger_exceptions.resolve_for_subject(
                con, ["tracking_missing"], number, "tracking added in Shopify"
            )
            ledger_events.append(
                con,
                [OrderEvent(row.intent.shopify_order_id, "tracking_added", actor,
                            reason=f"{number}: tracking {tracking.company} {tracking.number} added to {row.fulfillment_name}")],
            )  # fmt: skip
        report.tracking_added += 1
    return True
