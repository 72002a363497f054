"""Step 2 of release: read due orders from Shopify again, record them as ingest would, translate.

What release re-reads goes through the same recording as ingest (`observed.record_orders`):
an order refunded or cancelled during its hold is judged by the state rules before anything is
translated, and the ledger keeps every column derived from the version read.
"""

from datetime import datetime

from sync_pipeline.lib.domain.bundles import explode_lines
from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import HeldOrder, TranslationOutcome
from sync_pipeline.lib.domain.shippable import shippable_lines
from sync_pipeline.lib.domain.translate import translate_order
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.observed import current_snapshot, record_orders
from sync_pipeline.lib.flows.orders.ports import OrderDelivery, OrdersSource, Warehouse
from sync_pipeline.lib.flows.orders.records import naive
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow
from sync_pipeline.lib.ledger.orders import OrderRow


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


def bring_up_to_date(
    source: OrdersSource,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    ids: list[str],
    moment: datetime,
    known: dict[str, OrderRow] | None = None,
) -> tuple[list[str], int]:
    """Make the ledger's snapshots of `ids` Shopify's current versions, reading in full only what changed.

    A cheap version check (`updatedAt`, about a point per order) confirms which snapshots are
    still current; only orders that changed since (or whose snapshot was read within the second
    of its version, see `observed.SETTLE`) are read in full and recorded as ingest records them.
    A snapshot recorded from a webhook body is the order as of its change, not as of its second's
    end: a second change in that second whose webhook is lost hides in it, and the poll's free
    fields do not show an address. For those the check also asks the fields routing and the
    parcel read in the same batched check (`OrdersSource.order_deliveries`: four points an order
    against 72 for a read in full at ten lines) and reads in full the orders where they differ.
    Returns the ids Shopify no longer has, and how many orders were read in full. `known`: the
    ledger's rows of `ids` as the caller has just read them (else they are read here).
    """
    if known is None:
        with ledger.transaction() as con:
            known = ledger_orders.get_many(con, ids)
    # Rows from before the ledger knew where a snapshot came from (None) are checked as bodies.
    from_body = [oid for oid in ids if oid in known and known[oid].snapshot_from_body is not False]
    deliveries = source.order_deliveries(from_body) if from_body else {}
    deliveries_asked = set(from_body)
    plain = [oid for oid in ids if oid not in deliveries_asked]
    versions = source.order_versions(plain) if plain else {}
    versions.update({oid: d.updated_at for oid, d in deliveries.items()})
    stale = [
        oid
        for oid in ids
        if oid in versions and not _current(known.get(oid), versions[oid], deliveries.get(oid))
    ]
    missing = [oid for oid in ids if oid not in versions]
    # Orders recorded from their webhook bodies have no customer tags yet: read them if routing needs them.
    current = [oid for oid in ids if oid in versions and oid not in stale]
    stale += fill_customer_tags(source, ledger, rules, actor, current, moment, known)
    if stale:
        fresh = source.orders_by_ids(stale)
        record_orders(ledger, list(fresh.values()), rules, actor, moment, read_at=moment)
        missing += [oid for oid in stale if oid not in fresh]
    return missing, len(stale)


def _current(row: OrderRow | None, version: datetime, delivery: OrderDelivery | None) -> bool:
    """The ledger's snapshot is Shopify's version `version` (and has its delivery, when asked)."""
    snapshot = current_snapshot(row, version)
    return snapshot is not None and (delivery is None or delivery.agrees(snapshot))


def reread(
    source: OrdersSource,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    ids: list[str],
    moment: datetime,
    report: ReleaseReport,
    known: dict[str, OrderRow] | None = None,
) -> dict[str, ShopOrder]:
    """The orders among `ids` still to release (or re-check), as Shopify has them now.

    Snapshots are brought up to date cheaply (`bring_up_to_date`, from `known` if the caller has
    just read them); orders Shopify no longer has are set aside.
    """
    missing, read_in_full = bring_up_to_date(source, ledger, rules, actor, ids, moment, known)
    report.reread_in_full += read_in_full
    set_aside_missing(missing, ledger, actor, report)
    with ledger.transaction() as con:
        rows = ledger_orders.get_many(con, ids)
    releasable: dict[str, ShopOrder] = {}
    for oid in ids:
        row = rows.get(oid)
        if row is None or not row.snapshot or oid in missing:
            continue
        due = row.state == state.AWAITING_RELEASE and row.release_due_at is not None
        if row.state == state.HELD or (due and row.release_due_at <= naive(moment)):  # type: ignore[operator]
            releasable[oid] = ShopOrder.model_validate(row.snapshot)
        else:
            report.superseded += 1  # the new version is not for release (refunded, cancelled, unpaid…)
    return releasable


def translate_all(
    orders: dict[str, ShopOrder], warehouse: Warehouse, ledger: Ledger, rules: BusinessRules, known: set[str]
) -> dict[str, TranslationOutcome]:
    """Translate each order; before holding one for an unmapped SKU, ask Peoplevox about the code.

    An item type created since the last catalogue refresh must not hold an order, nor lose an
    item an edit added to an order already in the warehouse.
    """
    outcomes = {oid: translate_order(order, rules, known) for oid, order in orders.items()}
    unknown = sorted(
        {
            rules.sku_overrides.overrides.get(unit.sku, unit.sku)
            for oid, outcome in outcomes.items()
            if isinstance(outcome, HeldOrder)
            and any(e.kind.value == "unmapped_sku" for e in outcome.exceptions)
            # Bundles exploded first: a component, not the bundle SKU, is what Peoplevox stocks.
            for unit in explode_lines(shippable_lines(orders[oid].lines), rules.bundles)
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
            outcomes = {oid: translate_order(order, rules, known) for oid, order in orders.items()}
    return outcomes
