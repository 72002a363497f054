"""Step 2 of release: re-read due orders from Shopify and translate them (looking up unknown item codes)."""

from sync_pipeline.lib.domain.bundles import explode_lines
from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    HeldOrder,
)
from sync_pipeline.lib.domain.shippable import shippable_lines
from sync_pipeline.lib.domain.translate import translate_order
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import (
    OrdersSource,
    Warehouse,
)
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow


def set_aside_missing(missing: list[str], ledger: Ledger, actor: str, report: ReleaseReport) -> None:
    """Orders Shopify no longer returns (deleted): nothing to send, and never retried forever."""
    if not missing:
        return
    with ledger.transaction() as con:
        current = ledger_orders.get_many(con, missing)
        missing = [
            oid
            for oid in missing
            if oid in current and current[oid].state in (state.AWAITING_RELEASE, state.HELD)
        ]
        for oid in missing:
            ledger_orders.set_fields(con, oid, state=state.NOT_FOR_WAREHOUSE)
        ledger_events.append(
            con,
            [
                OrderEvent(
                    oid, "state_changed", actor, reason=f"→ {state.NOT_FOR_WAREHOUSE}: not found in Shopify"
                )
                for oid in missing
            ],
        )
    report.not_for_warehouse += len(missing)


def reread(
    source: OrdersSource, known: dict[str, ledger_orders.OrderRow], ids: list[str], report: ReleaseReport
) -> dict[str, ShopOrder]:
    """The orders as Shopify has them now, just before release.

    A cheap version check (`updatedAt`, about a point per order) confirms which ledger snapshots
    are still current; only orders that changed since are read in full. Edits and cancellations
    made during the hold are honoured either way, at a fraction of a full read's cost.
    """
    versions = source.order_versions(ids)
    current: dict[str, ShopOrder] = {}
    stale: list[str] = []
    for oid in ids:
        row = known.get(oid)
        snapshot = ShopOrder.model_validate(row.snapshot) if row and row.snapshot else None
        if oid not in versions:
            continue  # deleted in Shopify: nothing to release
        if snapshot is not None and aware(snapshot.updated_at) == versions[oid]:
            current[oid] = snapshot
        else:
            stale.append(oid)
    if stale:
        current.update(source.orders_by_ids(stale))
    report.reread_in_full += len(stale)
    return current


def translate_all(
    fresh: dict[str, ShopOrder], warehouse: Warehouse, ledger: Ledger, rules: BusinessRules, known: set[str]
) -> dict[str, object]:
    outcomes = {oid: translate_order(order, rules, known) for oid, order in fresh.items()}
    # Before holding an order for an unmapped SKU, ask Peoplevox about those codes: an item type
    # created since the last catalogue refresh must not hold an order.
    unknown = sorted(
        {
            rules.sku_overrides.overrides.get(unit.sku, unit.sku)
            for oid, outcome in outcomes.items()
            if isinstance(outcome, HeldOrder)
            and any(e.kind.value == "unmapped_sku" for e in outcome.exceptions)
            # Bundles exploded first: a component, not the bundle SKU, is what Peoplevox stocks.
            for unit in explode_lines(shippable_lines(fresh[oid].lines), rules.bundles)
            if unit.sku
        }
        - known
    )
    if unknown:
        found = warehouse.existing_item_codes(unknown)
        if found:
            with ledger.transaction() as con:
                ledger_catalogue.upsert_item_types(con, [ItemTypeRow(c, None, None) for c in found])
            known = known | found
            outcomes = {oid: translate_order(order, rules, known) for oid, order in fresh.items()}
    return outcomes
