"""Step 1 of release: finish injections whose outcome is unknown, without creating anything twice."""

from collections.abc import Sequence

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.sales_order import (
    SalesOrderItem,
    TranslatedOrder,
)
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import (
    Warehouse,
)
from sync_pipeline.lib.flows.orders.release.inject import inject, record_verdicts
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.translations import (
    stored_translation,
)
from sync_pipeline.lib.flows.orders.statuses import AllocationMoved
from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.injections import Injection


def resolve_in_doubt(
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    on_allocation: AllocationMoved | None = None,
) -> None:
    """Finish every injection whose outcome is unknown, without creating anything twice.

    An injection whose order Shopify changed meanwhile (ingest set `change_pending` while it
    was `injecting`) is never finished with its stored, older rows, which are often the very
    version the customer cancelled: if Peoplevox never got it, the order goes back to the
    release queue and its new version is judged and sent; if Peoplevox has its header, what
    Peoplevox holds is recorded and the change is planned against that like any other.
    """
    with ledger.transaction() as con:
        doubtful = ledger_injections.in_state(con, "sending")
        rows = ledger_orders.get_many(con, [d.shopify_order_id for d in doubtful])
    if not doubtful:
        return
    found = warehouse.find_sales_orders([d.sales_order_number for d in doubtful], with_items=True)
    changed = {
        d.sales_order_number
        for d in doubtful
        if (row := rows.get(d.shopify_order_id)) is not None
        and row.state == state.INJECTING
        and row.change_pending
    }
    withdrawn = [d for d in doubtful if d.sales_order_number in changed and d.sales_order_number not in found]
    _release_again(withdrawn, ledger, actor, report)
    gone = {d.sales_order_number for d in withdrawn}
    resend: list[TranslatedOrder] = []
    missing_items: dict[str, Sequence[SalesOrderItem]] = {}
    confirmed: list[TranslatedOrder] = []
    for d in doubtful:
        translated = stored_translation(d.header, d.items)
        if translated is None or d.sales_order_number in gone:
            continue
        existing = found.get(d.sales_order_number)
        if existing is None:
            resend.append(translated)
            report.in_doubt_resolved["resent"] += 1
            continue
        lacking = [
            i for i in translated.items if existing.item_quantities.get(i.ItemCode, 0) < i.QuantityOrdered
        ]
        if lacking and d.sales_order_number not in changed:
            missing_items[d.sales_order_number] = lacking
            resend.append(translated)
            report.in_doubt_resolved["items_completed"] += 1
        else:
            confirmed.append(translated)
            report.in_doubt_resolved["found_in_peoplevox"] += 1
    if confirmed:
        # Recorded as Peoplevox reports it (status and items): the warehouse may have moved on.
        # Its own report: these were counted as found above, not injected; only an allocation the
        # warehouse made meanwhile carries over (the stock flow re-pushes those items).
        recorded = ReleaseReport()
        by_number = {t.sales_order_number: t for t in confirmed}
        record_verdicts(by_number, {}, {}, ledger, actor, recorded, found, on_allocation)
        report.stock_items_hinted += recorded.stock_items_hinted
    if resend:
        inject(
            resend, warehouse, ledger, rules, actor, report,
            items_only=missing_items, found=found, on_allocation=on_allocation,
        )  # fmt: skip


def _release_again(withdrawn: list[Injection], ledger: Ledger, actor: str, report: ReleaseReport) -> None:
    """Injections Peoplevox never got, of orders Shopify changed since: back to the release queue."""
    if not withdrawn:
        return
    with ledger.transaction() as con:
        ledger_injections.mark_many(
            con, [(d.sales_order_number, "failed", "never reached Peoplevox; superseded") for d in withdrawn]
        )
        ledger_orders.set_fields_many(
            con,
            [
                (d.shopify_order_id, {"state": state.AWAITING_RELEASE, "change_pending": False})
                for d in withdrawn
            ],
        )
        ledger_events.append(
            con,
            [
                OrderEvent(
                    d.shopify_order_id,
                    "state_changed",
                    actor,
                    reason=f"{state.INJECTING} → {state.AWAITING_RELEASE}: {d.sales_order_number} never "
                    "reached Peoplevox and Shopify has changed the order since; the new version is released",
                )
                for d in withdrawn
            ],
        )
    report.in_doubt_resolved["released_again"] += len(withdrawn)
