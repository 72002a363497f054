"""Plan: an order's despatched packages → Shopify fulfilments or exceptions. Pure: no I/O.

Packages go in despatch order. Those already settled say which line units they account for and
which units they shipped beyond anything the order has (excess, counted once, by finance); the
rest of what they shipped waits in a pool (a bundle half shipped). Each open package is then
allocated to whole line units (`domain.fulfilment.allocate`), placed on the order's fulfilment
orders (`spread`, never above `remainingQuantity`) and becomes one fulfilment, or a reason it
cannot: held or closed fulfilment order, cancelled order, units already fulfilled by hand.
A package that must wait (for tracking, or behind a blocked one) holds back the later packages of
its order, so packages reach Shopify in the order they left the warehouse.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules, WithoutTracking
from sync_pipeline.lib.domain.fulfilment import (
    ALREADY_FULFILLED,
    ON_HOLD,
    OTHER_LOCATION,
    FulfilmentOrderLine,
    LineNeed,
    Move,
    allocate,
    consumed,
    gather,
    line_needs,
    settled_pool,
    spread,
)
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.tracking import Tracking, tracking_for
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import OrderFulfilments
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger.despatches import PackageRow


@dataclass
class Decision:
    package_number: str
    state: str  # the package's next state (FULFILLING: send `request`)
    reason: str
    line_quantities: dict[str, int] = field(default_factory=dict)
    # Item units shipped that no line of the order can use: recorded on the package when it settles.
    excess: dict[str, int] = field(default_factory=dict)
    request: dict[str, dict[str, int]] = field(default_factory=dict)
    location_id: str | None = None
    tracking: Tracking | None = None
    exceptions: list[ExceptionRecord] = field(default_factory=list)
    # MOVING: bring the package's lines to one location first (then it is planned again).
    moves: list[Move] = field(default_factory=list)


def package_exception(kind: str, message: str, order: ShopOrder, package: PackageRow) -> ExceptionRecord:
    return ExceptionRecord(
        kind=kind,
        owner=states.OWNERS[kind],
        message=message,
        shopify_order_id=order.id,
        sales_order_number=package.sales_order_number,
        subject=package.package_number,
    )


def _names(order: ShopOrder) -> dict[str, str]:
    return {line.id: line.name or line.sku or line.id for line in order.lines}


def plan_order(
    order: ShopOrder,
    packages: Sequence[PackageRow],
    shopify: OrderFulfilments | None,
    rules: BusinessRules,
    now: datetime,
) -> list[Decision]:
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
    decisions: list[Decision] = []
    held_back = False
    for p in packages:
        if p.state not in states.OPEN:
            continue
        if held_back:
            decisions.append(
                Decision(p.package_number, states.PENDING, "waits for an earlier package of its order")
            )
            continue
        decision = _plan_package(
            order, p, needs, accounted, pool, fo_lines, cancelled, shopify is None, rules, now
        )
        decisions.append(decision)
        if decision.state in (states.FULFILLING, states.POOLED, states.FULFILLED_ELSEWHERE):
            accounted.update(decision.line_quantities)
            used = consumed(needs, decision.line_quantities)
            pool = +(pool + Counter(p.items) - used - Counter(decision.excess))
            fo_lines = _after(fo_lines, decision.request)
        else:
            held_back = True
    return decisions


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


def _plan_package(
    order: ShopOrder,
    p: PackageRow,
    needs: Sequence[LineNeed],
    accounted: Mapping[str, int],
    pool: Mapping[str, int],
    fo_lines: Sequence[FulfilmentOrderLine],
    cancelled: bool,
    order_missing: bool,
    rules: BusinessRules,
    now: datetime,
) -> Decision:
    config = rules.despatches
    number = p.package_number
    if order_missing:
        return Decision(number, states.PENDING, "Shopify did not return the order; tried again next run")
    if cancelled:
        units = ", ".join(f"{q} × {c}" for c, q in p.items.items())
        return Decision(
            number,
            states.BLOCKED,
            "order cancelled in Shopify",
            exceptions=[
                package_exception("shipped_after_cancel", f"{order.name} was cancelled in Shopify but Peoplevox shipped "
                           f"package {number} ({units}); contact the customer about the parcel", order, p),
                package_exception("shipped_after_cancel_refunded", f"{order.name} was cancelled (and refunded) but package "
                           f"{number} shipped ({units}); recover the goods or charge for them", order, p),
            ],
        )  # fmt: skip
    exceptions: list[ExceptionRecord] = []
    waited = now - p.first_seen_at
    if not p.tracking_number:
        if waited < timedelta(minutes=config.tracking_wait_minutes):
            return Decision(number, states.AWAITING_TRACKING, "waiting for the carrier's tracking number")
        missing = package_exception(
            "tracking_missing",
            f"package {number} has had no tracking number for {int(waited.total_seconds() // 60)} min after despatch"
            + ("; fulfilled without it, the number is added when Peoplevox has it"
               if config.without_tracking is WithoutTracking.FULFIL else "; waiting for it before fulfilling"),
            order,
            p,
        )  # fmt: skip
        if config.without_tracking is WithoutTracking.WAIT:
            return Decision(
                number, states.AWAITING_TRACKING, "still no tracking number", exceptions=[missing]
            )
        exceptions.append(missing)
    tracking = tracking_for(rules.carriers, p.carrier, p.service, p.tracking_number)
    if not tracking.known_carrier:
        exceptions.append(
            package_exception("unknown_carrier", f"carrier {p.carrier!r} / service {p.service!r} of package {number} has no "
                       "rule in carriers.yaml; sent to Shopify under that name, without a tracking link", order, p)
        )  # fmt: skip
    allocation = allocate(needs, accounted, pool, p.items)
    if allocation.excess:
        extra = ", ".join(f"{q} × {c}" for c, q in allocation.excess.items())
        exceptions.append(
            package_exception("over_despatched", f"package {number} shipped more than {order.name} ordered: {extra} "
                       "(not fulfilled in Shopify; check what left the warehouse)", order, p)
        )  # fmt: skip
    if not allocation.lines:
        return Decision(
            number,
            states.POOLED,
            "its units complete no Shopify line yet (part of a bundle)",
            excess=dict(allocation.excess),
            exceptions=exceptions,
        )
    placed = spread(allocation.lines, fo_lines)
    names = _names(order)
    blocking = {line: why for line, (_, why) in placed.short.items() if why != ALREADY_FULFILLED}
    if blocking:
        kind = "fulfillment_on_hold" if ON_HOLD in blocking.values() else "fulfillment_order_closed"
        what = ", ".join(
            f"{names.get(line, line)} ({why.replace('_', ' ')})" for line, why in blocking.items()
        )
        split = OTHER_LOCATION in blocking.values()
        target = _warehouse_location(fo_lines, rules, p) or placed.location_id
        moves = gather(allocation.lines, fo_lines, target) if split and target else None
        if moves:
            # Shopify fulfils one location per fulfilment: move the lines that sit elsewhere to the
            # warehouse's location, then plan again from what Shopify then shows (new line item ids).
            return Decision(number, states.MOVING, f"moving {what} to one location",
                            line_quantities=allocation.lines, excess=dict(allocation.excess),
                            tracking=tracking, exceptions=exceptions, moves=moves)  # fmt: skip
        fix = (
            "Shopify fulfils one location per fulfilment: move that fulfilment order to the location of "
            "the rest of the package (or fulfil it by hand)"
            if split
            else "release or reopen the fulfilment order, or fulfil it by hand"
        )
        exceptions.append(
            package_exception(kind, f"{order.name}: package {number} cannot be fulfilled in Shopify: {what}; {fix}",
                       order, p)
        )  # fmt: skip
        # The package waits whole whatever stops a part of it (held, closed, incomplete, another
        # location): the parcel is one parcel, part of it now would be a second shipping email
        # later, and the ledger could not say the package is fulfilled while Shopify has a line open.
        return Decision(number, states.BLOCKED, kind, exceptions=exceptions)
    if placed.empty:
        return Decision(
            number,
            states.FULFILLED_ELSEWHERE,
            "already fulfilled in Shopify (by hand)",
            line_quantities=allocation.lines,
            excess=dict(allocation.excess),
            exceptions=exceptions,
        )
    # Units Shopify already had fulfilled by hand are accounted for by this package too.
    return Decision(
        number,
        states.FULFILLING,
        "to fulfil",
        line_quantities=allocation.lines,
        excess=dict(allocation.excess),
        request=placed.request,
        location_id=placed.location_id,
        tracking=tracking,
        exceptions=exceptions,
    )


def _warehouse_location(
    fo_lines: Sequence[FulfilmentOrderLine], rules: BusinessRules, p: PackageRow
) -> str | None:
    """The Shopify location (id) of the package's Peoplevox site (`stock.yaml`), if the order has a
    fulfilment order there."""
    name = rules.stock.locations.get(p.site or "")
    if not name:
        return None
    return next(
        (f.location_id for f in fo_lines if (f.location_name or "").casefold() == name.casefold()), None
    )


def despatch_state(order: ShopOrder, packages: Sequence[PackageRow], rules: BusinessRules) -> str:
    """The order's despatch state from its packages as the ledger holds them."""
    needs = line_needs(order.lines, rules.bundles, rules.sku_overrides.overrides)
    shipped: Counter[str] = Counter()
    accounted: Counter[str] = Counter()
    settled = True
    for p in packages:
        shipped.update(p.items)
        if p.state in states.SETTLED:
            accounted.update(p.line_quantities or {})
        else:
            settled = False
    wanted = consumed(needs, {n.line_id: n.ordered for n in needs})
    if any(shipped.get(code, 0) < units for code, units in wanted.items()):
        return states.PARTIALLY_DESPATCHED
    complete = all(accounted.get(n.line_id, 0) >= n.ordered for n in needs)
    return states.ORDER_FULFILLED if settled and complete else states.DESPATCHED
