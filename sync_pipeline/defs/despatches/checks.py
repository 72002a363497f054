from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.despatches.assets import shopify_fulfilments
from sync_pipeline.defs.markdown import rows_table
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.audit import audit_order
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger import orders as ledger_orders

# How far back the line-level audit looks (orders with a package read in this window).
AUDIT_DAYS = 14


@dg.asset_check(asset=shopify_fulfilments, name="despatches_reach_shopify", pool=brand.LEDGER)
def despatches_reach_shopify(
    ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Every despatched package is fulfilled in Shopify within `unfulfilled_minutes` of being read,
    so tracking numbers post back to the storefront.

    A `pooled` package (a bundle part) counts until a fulfilment carries its tracking number: the
    parcel has left and the customer has no shipping email for it. Packages stopped by an open
    exception (held fulfilment order, cancelled order…) are listed apart: a person owns each of
    those. The check fails on the others: packages nothing explains.
    """
    minutes = business_rules.load().despatches.unfulfilled_minutes
    before = datetime.now(UTC) - timedelta(minutes=minutes)
    with ledger.get_ledger().transaction() as con:
        # A pooled parcel no fulfilment carries yet has reached no customer either (a bundle part
        # whose rest was short-picked never will): until 2026-12-01 it counted as settled.
        # A fulfilment cancelled in Shopify after we made it is CX's (`fulfilment_cancelled_in_shopify`),
        # and stays theirs once they resolve it: the flow never sends it again, so it is not late.
        late = ledger_despatches.not_settled_before(
            con, before, (*states.SETTLED, states.CANCELLED_IN_SHOPIFY), pooled=states.POOLED
        )
        explained = {subject for _, subject in ledger_exceptions.open_subjects(con, states.OWNERS)}
    unexplained = [r for r in late if r[0] not in explained]
    owned = [r for r in late if r[0] in explained]
    return dg.AssetCheckResult(
        passed=not unexplained,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(unexplained)} package(s) not in Shopify after {minutes} min with no exception; "
        f"{len(owned)} more stopped by an open exception",
        metadata={
            "unexplained": len(unexplained),
            "with_exception": len(owned),
            "packages": rows_table(
                unexplained, "| package | sales order | order id | state | why |\n|---|---|---|---|---|"
            ),
        },
    )


@dg.asset_check(asset=shopify_fulfilments, name="fulfilled_quantities_match_despatched", pool=brand.LEDGER)
def fulfilled_quantities_match_despatched(
    ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """No Shopify line is fulfilled beyond what the warehouse shipped for it, or beyond what was
    ordered (line by line, per order, over the last two weeks of despatches)."""
    rules = business_rules.load()
    since = datetime.now(UTC) - timedelta(days=AUDIT_DAYS)
    with ledger.get_ledger().transaction() as con:
        order_ids = ledger_despatches.orders_despatched_since(con, since)
        rows = ledger_orders.get_many(con, order_ids)
        packages = ledger_despatches.for_orders(con, order_ids)
        fulfilments = ledger_fulfilments.for_orders(con, order_ids)
    findings = [
        finding
        for oid in order_ids
        if rows.get(oid) and rows[oid].snapshot
        for finding in audit_order(
            ShopOrder.model_validate(rows[oid].snapshot),
            packages.get(oid, []),
            fulfilments.get(oid, []),
            rules,
        )
    ]
    return dg.AssetCheckResult(
        passed=not findings,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(findings)} line(s) fulfilled beyond what was despatched or ordered, "
        f"across {len(order_ids)} despatched order(s)",
        metadata={
            "orders_audited": len(order_ids),
            "lines_over": len(findings),
            "lines": rows_table(
                [(f.order_name, f.line, f.ordered, f.despatched_allows, f.fulfilled) for f in findings],
                "| order | line | ordered | despatched allows | fulfilled |\n|---|---|---:|---:|---:|",
            ),
        },
    )


@dg.asset_check(asset=shopify_fulfilments, name="tracking_posted", pool=brand.LEDGER)
def tracking_posted(ledger: LedgerResource) -> dg.AssetCheckResult:
    """Every parcel a fulfilment in Shopify stands for has its tracking number there: the
    fulfilment's own package's and the pooled parcels it carries (a late one is added when it
    comes). Listed by parcel, so a carrying fulfilment that shows its pooled parcels' numbers but
    not its own names the parcel without one."""
    with ledger.get_ledger().transaction() as con:
        missing = ledger_fulfilments.parcels_without_tracking(con)
    return dg.AssetCheckResult(
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(missing)} parcel(s) in a Shopify fulfilment without their tracking number there",
        metadata={
            "without_tracking": len(missing),
            "fulfilments": rows_table(
                missing, "| parcel | order id | Shopify fulfilment | whose |\n|---|---|---|---|"
            ),
        },
    )
