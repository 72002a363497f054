"""Step 1 of release: finish injections whose outcome is unknown, without creating anything twice."""

from collections.abc import Sequence

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.sales_order import (
    SalesOrderItem,
    TranslatedOrder,
)
from sync_pipeline.lib.flows.orders.ports import (
    Warehouse,
)
from sync_pipeline.lib.flows.orders.release.inject import inject, record_verdicts
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.translations import (
    batches,
    stored_translation,
)
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import injections as ledger_injections


def resolve_in_doubt(
    warehouse: Warehouse, ledger: Ledger, rules: BusinessRules, actor: str, report: ReleaseReport
) -> None:
    """Finish every injection whose outcome is unknown, without creating anything twice."""
    with ledger.transaction() as con:
        doubtful = ledger_injections.in_state(con, "sending")
    if not doubtful:
        return
    found = {}
    for chunk in batches([d.sales_order_number for d in doubtful], 100):
        found.update(warehouse.find_sales_orders(chunk, with_items=True))
    resend: list[TranslatedOrder] = []
    missing_items: dict[str, Sequence[SalesOrderItem]] = {}
    confirmed: list[TranslatedOrder] = []
    for d in doubtful:
        translated = stored_translation(d.header, d.items)
        if translated is None:
            continue
        existing = found.get(d.sales_order_number)
        if existing is None:
            resend.append(translated)
            report.in_doubt_resolved["resent"] += 1
            continue
        lacking = [
            i for i in translated.items if existing.item_quantities.get(i.ItemCode, 0) < i.QuantityOrdered
        ]
        if lacking:
            missing_items[d.sales_order_number] = lacking
            resend.append(translated)
            report.in_doubt_resolved["items_completed"] += 1
        else:
            confirmed.append(translated)
            report.in_doubt_resolved["found_in_peoplevox"] += 1
    if confirmed:
        # Recorded with the status Peoplevox reports: the warehouse may have moved on meanwhile.
        record_verdicts(
            {t.sales_order_number: t for t in confirmed}, {}, {}, ledger, actor, ReleaseReport(), found
        )
    if resend:
        inject(resend, warehouse, ledger, rules, actor, report, items_only=missing_items, found=found)
