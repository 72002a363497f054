"""The ledger's open orders as units awaiting allocation (or not), for the stock targets.

An order's units await allocation while Peoplevox has not allocated them: the order is still ours
(unpaid, in the hold window, held, refused) or injecting, or Peoplevox has it as `New` or in a
status we do not know (the safe reading: hold the units back). From `Allocated` on (and once
Peoplevox cancelled it) the warehouse's own available figure already excludes them.
An order not sent yet has no site: it is routed here as release would route it.
"""

from __future__ import annotations

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.routing import choose_route
from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, parse_status
from sync_pipeline.lib.domain.stock_targets import OpenOrderUnits
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger import stock_orders

PAST_ALLOCATION = frozenset(
    {
        PeoplevoxStatus.ALLOCATED,
        PeoplevoxStatus.PICKING,
        PeoplevoxStatus.PACKED,
        PeoplevoxStatus.DESPATCHED,
        PeoplevoxStatus.CANCELLED,
    }
)
IN_WAREHOUSE = "in_warehouse"
# Orders that never reach Peoplevox: Shopify commits their units, the warehouse never allocates them.
NEVER_SENT = frozenset({"too_old", "not_for_warehouse"})


def awaits_allocation(state: str, pvx_status: str | None) -> bool:
    if state in NEVER_SENT:
        return False
    if state != IN_WAREHOUSE:
        return True
    return parse_status(pvx_status) not in PAST_ALLOCATION


def order_units_from(con: duckdb.DuckDBPyConnection, rules: BusinessRules) -> list[OpenOrderUnits]:
    """Every open order line as units awaiting allocation or not, at its (routed) site."""
    lines = stock_orders.open_lines(con)
    unrouted = {
        ln.shopify_order_id for ln in lines if ln.site is None and awaits_allocation(ln.state, ln.pvx_status)
    }
    sites: dict[str, str | None] = {}
    for oid, row in ledger_orders.get_many(con, unrouted).items():
        if row.snapshot:
            sites[oid] = choose_route(ShopOrder.model_validate(row.snapshot), rules.routing).site or None
    return [
        OpenOrderUnits(
            line.sku,
            line.site or sites.get(line.shopify_order_id),
            line.units,
            awaits_allocation(line.state, line.pvx_status),
        )
        for line in lines
    ]
