"""The ledger's open orders as units awaiting allocation (or not), for the stock targets.

An order's units await allocation while Peoplevox has not allocated them: the order is still ours
(unpaid, in the hold window, held, refused) or injecting, or Peoplevox has it as `New` or in a
status we do not know (the safe reading: hold the units back). From `Allocated` on (and once
Peoplevox cancelled it) the warehouse's own available figure already excludes them.
An order not sent yet has no site: it is routed here as release would route it.

Only from when the ledger learned the status, though: the targets subtract these units from a
Peoplevox figure read earlier (a run reads Peoplevox, then may wait minutes for the `shopify_stock`
pool before it pushes). An order the ledger saw move past `New` after that figure was read may have
been allocated after it too, so the figure still counts its units as available: it stays awaiting
until a figure read after the ledger learned its allocation move (session-8 rehearsal: 7 units of
REH-SCARCE-002 went `New` → `Picking` between the read and the push, which raised Shopify 14 → 17
with 16 allowed). Only a move of the allocation counts (`orders.pvx_status_learned_at`): a later
Allocated → Despatched leaves the figure as it was, and must not hold the units back again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.routing import choose_route
from sync_pipeline.lib.domain.statuses import PeoplevoxStatus, parse_status
from sync_pipeline.lib.domain.stock_targets import OpenOrderUnits
from sync_pipeline.lib.flows.stock.listings import recipes_for
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


def awaits_allocation(
    state: str,
    pvx_status: str | None,
    status_learned_at: datetime | None = None,
    figures_read_at: datetime | None = None,
) -> bool:
    """Whether a Peoplevox figure read at `figures_read_at` (None: not known, taken as fresh)
    still counts this order's units as available (naive UTC times, as the ledger keeps them)."""
    if state in NEVER_SENT:
        return False
    if state != IN_WAREHOUSE:
        return True
    if parse_status(pvx_status) not in PAST_ALLOCATION:
        return True
    # Past allocation, but learned after the figure was read (or unknown when): not in the figure.
    if figures_read_at is None:
        return False
    return status_learned_at is None or status_learned_at > figures_read_at


def order_units_from(
    con: duckdb.DuckDBPyConnection, rules: BusinessRules, read_at: Mapping[str, datetime] | None = None
) -> list[OpenOrderUnits]:
    """Every open order line as units awaiting allocation or not, at its (routed) site.
    `read_at`: when each item's Peoplevox figure was read (see the module docstring); a line's
    figure is its SKU's components' oldest. None: figures taken as fresh."""
    lines = stock_orders.open_lines(con)
    recipes = recipes_for({ln.sku for ln in lines}, rules) if read_at is not None else {}

    def figures_read_at(sku: str) -> datetime | None:
        times = [read_at[code] for code, _ in recipes[sku] if code in read_at] if read_at is not None else []
        return min(times) if times else None

    def awaiting(ln: stock_orders.OpenLine) -> bool:
        return awaits_allocation(ln.state, ln.pvx_status, ln.status_learned_at, figures_read_at(ln.sku))

    unrouted = {ln.shopify_order_id for ln in lines if ln.site is None and awaiting(ln)}
    sites: dict[str, str | None] = {}
    for oid, row in ledger_orders.get_many(con, unrouted).items():
        if row.snapshot:
            sites[oid] = choose_route(ShopOrder.model_validate(row.snapshot), rules.routing).site or None
    unsent = _not_in_warehouse(
        con, rules, [ln for ln in lines if ln.state == IN_WAREHOUSE and not awaiting(ln)]
    )
    found: list[OpenOrderUnits] = []
    for line in lines:
        site = line.site or sites.get(line.shopify_order_id)
        beyond = min(line.units, unsent.get((line.shopify_order_id, line.line_id), 0))
        if line.units - beyond > 0:
            found.append(OpenOrderUnits(line.sku, site, line.units - beyond, awaiting(line)))
        if beyond:
            found.append(OpenOrderUnits(line.sku, site, beyond, True))
    return found


def _not_in_warehouse(
    con: duckdb.DuckDBPyConnection, rules: BusinessRules, past: list[stock_orders.OpenLine]
) -> dict[tuple[str, str | None], int]:
    """Units of lines past allocation that Peoplevox does not hold, per (order, line): an edit in
    Shopify that added units after the cut-off (the change run leaves it to a person) or before the
    change reached Peoplevox. Shopify committed them; Peoplevox neither allocated them nor took them
    off its figure, so they await allocation like any order's (a review found 3 such units put back
    on sale). Compared with what the ledger recorded Peoplevox accepting; orders with no record
    are taken as held in full."""
    held = stock_orders.held_in_warehouse(con, {ln.shopify_order_id for ln in past})
    if not held:
        return {}
    recipes = recipes_for({ln.sku for ln in past}, rules)
    unsent: dict[tuple[str, str | None], int] = {}
    for line in past:
        left = held.get(line.shopify_order_id)
        if left is None:
            continue
        ordered = line.ordered if line.ordered is not None else line.units
        # Units of this line Peoplevox holds: as many whole units as every component allows.
        covered = min([ordered] + [left.get(code, 0) // per_unit for code, per_unit in recipes[line.sku]])
        for code, per_unit in recipes[line.sku]:
            left[code] = left.get(code, 0) - covered * per_unit
        if ordered - covered > 0:
            unsent[(line.shopify_order_id, line.line_id)] = ordered - covered
    return unsent
