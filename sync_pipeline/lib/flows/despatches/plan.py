"""Plan: an order's despatched packages → Shopify fulfilments or exceptions. Pure: no I/O.

Packages go in despatch order. Those already settled say which line units they account for and
which units they shipped beyond anything the order has (excess, counted once, by finance); the
rest of what they shipped waits in a pool (a bundle half shipped). Each open package is then
planned on its own (`plan_package.py`: the checks, its whole line units; `placement.py`: on which
fulfilment orders, at which location) and becomes one fulfilment, or a reason it cannot: held or
closed fulfilment order, cancelled order, units already fulfilled by hand (`decision.py`).
A package that must wait (for tracking, or behind a blocked one) holds back the later packages of
its order, so packages reach Shopify in the order they left the warehouse.

The line needs come from the ledger's copy of the order, the room from Shopify's fulfilment orders.
When Shopify holds other line quantities than that copy (an edit or refund the orders flow has not
read yet: `ledger_behind`), every open package of the order waits (`pending`): planned against the
old lines, a unit taken off would read as "fulfilled by hand" and never be told as over-despatched.
Past `order_catch_up_minutes` the integration owner gets `order_edit_not_read`.

A `pooled` package has no fulfilment of its own, so its tracking number rides on the next package
of its order to go to Shopify (for a bundle shipped in parts, the package that completes it): that
fulfilment carries every such parcel's number (`Tracking.carried`), or the customer would never see
it. A pooled package stays with the package that first carried it, unless that package turns out
not to be in Shopify (planned again: it carries them again when it goes).

The warehouse shipped the parcel, so it is fulfilled from the warehouse's Shopify location (the one
`stock.yaml` maps its Peoplevox site to, `locations.py`): lines Shopify assigned elsewhere are moved
there first (`move.py`), whether the package sits at two locations or wholly at one other location.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.fulfilment import (
    FulfilmentOrderLine,
    LineNeed,
    consumed,
    line_needs,
    settled_pool,
)
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.tracking import Tracking, carrying, tracking_for
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision, package_exception
from sync_pipeline.lib.flows.despatches.plan_package import plan_package
from sync_pipeline.lib.flows.despatches.ports import OrderFulfilments
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.records import to_naive_utc


def plan_order(
    order: ShopOrder,
    packages: Sequence[PackageRow],
    shopify: OrderFulfilments | None,
    rules: BusinessRules,
    now: datetime,
    warehouses: Mapping[str, str],
) -> list[Decision]:
    """`warehouses`: Peoplevox site → the id of the Shopify location it ships as (sites `stock.yaml`
    does not map, or maps to a name Shopify lacks, are absent: fulfilled where Shopify put them)."""
    needs = line_needs(order.lines, rules.bundles, rules.sku_overrides.overrides)
    accounted: Counter[str] = Counter()
    recorded_excess: Counter[str] = Counter()
    for p in packages:
        if p.state in states.SETTLED:
            accounted.update(p.line_quantities or {})
            recorded_excess.update(p.excess_items or {})
    # Excess already recorded stays excess (a later edit adding a line does not reuse it), so each
    # unit shipped is counted once: as a line unit, as excess, or waiting in the pool.
    pool = settled_pool(needs, accounted, _items(packages, states.SETTLED), recorded_excess)
    fo_lines = list(shopify.fo_lines) if shopify else []
    cancelled = order.is_cancelled or (shopify is not None and shopify.cancelled)
    behind = None if cancelled or shopify is None else ledger_behind(order, needs, fo_lines)
    if behind is not None:
        return _wait_for_ledger(order, packages, shopify, behind, rules, now)
    needs = _as_shopify_wants(needs, fo_lines) if shopify is not None and not cancelled else needs
    decisions: list[Decision] = []
    held_back = False
    in_shopify = {p.package_number for p in packages if p.state in (states.FULFILLING, states.FULFILLED)}
    # Pooled parcels whose numbers no fulfilment in Shopify carries yet.
    uncarried = [p for p in packages if p.state == states.POOLED and p.carried_by not in in_shopify]
    for p in packages:
        if p.state not in states.OPEN:
            continue
        if held_back:
            decisions.append(
                Decision(p.package_number, states.PENDING, "waits for an earlier package of its order")
            )
            continue
        decision = plan_package(
            order, p, needs, accounted, pool, fo_lines, cancelled, shopify is None, rules, now,
            warehouses.get(p.site or ""),
        )  # fmt: skip
        if decision.state == states.POOLED:
            uncarried.append(p)
        elif decision.state == states.FULFILLING and uncarried:
            decision = _carry(decision, uncarried, rules)
            uncarried = []
        decisions.append(decision)
        if decision.state in (states.FULFILLING, states.POOLED, states.FULFILLED_ELSEWHERE):
            accounted.update(decision.line_quantities)
            used = consumed(needs, decision.line_quantities)
            pool = +(pool + Counter(p.items) - used - Counter(decision.excess))
            fo_lines = _after(fo_lines, decision.request)
        else:
            held_back = True
    return decisions


# The reason of a package that waits for the orders flow to read a change Shopify holds.
WAITS_FOR_LEDGER = "waits for the orders flow to read a change"
EDIT_NOT_READ = "order_edit_not_read"


def _shopify_totals(fo_lines: Sequence[FulfilmentOrderLine]) -> Counter[str] | None:
    """Each line's `totalQuantity` summed over the order's fulfilment orders (its current quantity,
    as the sandbox keeps it), or None when a fulfilment order line does not say (nothing to compare)."""
    if any(f.total is None for f in fo_lines):
        return None
    totals: Counter[str] = Counter()
    for f in fo_lines:
        totals[f.line_id] += f.total or 0
    return totals


def ledger_behind(
    order: ShopOrder, needs: Sequence[LineNeed], fo_lines: Sequence[FulfilmentOrderLine]
) -> str | None:
    """What shows that Shopify changed the order's lines since the ledger's copy, or None.

    Assumes (as the sandbox does) that a line's `totalQuantity` summed over the order's fulfilment
    orders is its current quantity: an edit or a restocking refund lowers it, a move splits it. Only
    a line Shopify holds fewer units of, or one the copy lacks, counts: a refund of units already
    fulfilled lowers the copy's quantity but not Shopify's totals, and must not hold packages."""
    totals = _shopify_totals(fo_lines)
    if totals is None:
        return None
    for need in needs:
        if totals.get(need.line_id, 0) < need.ordered:
            return (f"Shopify holds {totals.get(need.line_id, 0)} unit(s) of line {need.line_id} where the ledger's "
                    f"copy of {order.name} has {need.ordered}")  # fmt: skip
    known = {line.id for line in order.lines}
    for line_id, total in totals.items():
        if total and line_id not in known:
            return f"Shopify holds line {line_id} that the ledger's copy of {order.name} lacks"
    return None


def _as_shopify_wants(needs: Sequence[LineNeed], fo_lines: Sequence[FulfilmentOrderLine]) -> list[LineNeed]:
    """Each line's units to ship, raised to what Shopify's fulfilment orders hold for it in all when
    that is more than the ledger's copy (never less: `ledger_behind` waits for that). A refund of a
    unit already fulfilled (a returned parcel) lowers the order's current quantity, while the unit
    still counts as fulfilled here and Shopify still expects the units not shipped yet; planned
    against the current quantity, the next parcel's units read as over-despatched and were never
    fulfilled (until 2026-12-01). An edit Shopify holds that the copy lacks, adding units, is what
    Shopify wants fulfilled too."""
    totals = _shopify_totals(fo_lines)
    if totals is None:
        return list(needs)
    return [replace(n, ordered=max(n.ordered, totals.get(n.line_id, 0))) for n in needs]


def _wait_for_ledger(
    order: ShopOrder,
    packages: Sequence[PackageRow],
    shopify: OrderFulfilments,
    behind: str,
    rules: BusinessRules,
    now: datetime,
) -> list[Decision]:
    bound = timedelta(minutes=rules.despatches.order_catch_up_minutes)
    decisions = []
    for p in packages:
        if p.state not in states.OPEN:
            continue
        since = to_naive_utc(shopify.version) or p.first_seen_at  # when Shopify last changed the order
        waited = max(now - since, timedelta(0))  # Shopify's clock may run a little ahead of ours
        late = waited >= bound
        problem = package_exception(
            EDIT_NOT_READ,
            f"package {p.package_number} waits: {behind} (an edit or refund the orders flow has not read for "
            f"{int(waited.total_seconds() // 60)} min); it goes once the ledger has the change",
            order,
            p,
        )
        decisions.append(
            Decision(
                p.package_number,
                states.PENDING,
                f"{WAITS_FOR_LEDGER}: {behind}",
                exceptions=[problem] if late else [],
            )
        )
    return decisions


def _carry(decision: Decision, pooled: Sequence[PackageRow], rules: BusinessRules) -> Decision:
    carried = tuple(tracking_for(rules.carriers, p.carrier, p.service, p.tracking_number) for p in pooled)
    own: Tracking | None = decision.tracking
    return replace(
        decision,
        tracking=carrying(own, carried),
        carries=[(p.package_number, t.number) for p, t in zip(pooled, carried, strict=True)],
    )


def _items(packages: Sequence[PackageRow], wanted: Sequence[str]) -> Counter[str]:
    total: Counter[str] = Counter()
    for p in packages:
        if p.state in wanted:
            total.update(p.items)
    return total


def _after(
    fo_lines: list[FulfilmentOrderLine], request: Mapping[str, Mapping[str, int]]
) -> list[FulfilmentOrderLine]:
    taken = {fo_line: q for items in request.values() for fo_line, q in items.items()}
    return [replace(f, remaining=f.remaining - taken.get(f.fo_line_id, 0)) for f in fo_lines]
