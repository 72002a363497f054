from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.markdown import rows_table
from sync_pipeline.defs.orders.assets import peoplevox_sales_orders
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.records import naive
from sync_pipeline.lib.ledger import orders as ledger_orders

NOT_YET_IN_WAREHOUSE = (state.AWAITING_RELEASE, state.INJECTING, state.INJECTION_FAILED)


@dg.asset_check(asset=peoplevox_sales_orders, name="paid_orders_reach_warehouse", pool=brand.LEDGER)
def paid_orders_reach_warehouse(
    ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Every paid order is in Peoplevox within `stale_order_minutes` of payment.

    Orders held with an exception are counted separately: they are waiting on a person, and the
    exceptions report says who.
    """
    minutes = business_rules.load().orders.stale_order_minutes
    cutoff = naive(datetime.now(UTC) - timedelta(minutes=minutes))
    with ledger.get_ledger().transaction() as con:
        stale = ledger_orders.stale_paid_orders(con, cutoff, NOT_YET_IN_WAREHOUSE)
        held = ledger_orders.stale_paid_orders(con, cutoff, (state.HELD,))
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(stale)} paid order(s) not in Peoplevox after {minutes} min; {len(held)} held with an exception",
        metadata={
            "stale_orders": len(stale),
            "held_with_exception": len(held),
            "stale": rows_table(stale, "| order id | order | state |\n|---|---|---|"),
        },
    )


@dg.asset_check(
    asset=peoplevox_sales_orders, name="cancelled_orders_not_active_in_warehouse", pool=brand.LEDGER
)
def cancelled_orders_not_active_in_warehouse(ledger: LedgerResource) -> dg.AssetCheckResult:
    """No order cancelled in Shopify is still live in Peoplevox (it would be picked and shipped).

    Each one found is either waiting for the next release run to cancel it, or past the cut-off
    and already a `change_after_cutoff` exception for CX.
    """
    with ledger.get_ledger().transaction() as con:
        live = ledger_orders.cancelled_but_active_in_warehouse(con, ("Cancelled",))
    return dg.AssetCheckResult(
        passed=not live,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(live)} order(s) cancelled in Shopify but still active in Peoplevox",
        metadata={
            "count": len(live),
            "orders": rows_table(
                live, "| order id | order | sales order | Peoplevox status |\n|---|---|---|---|"
            ),
        },
    )
