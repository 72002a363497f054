"""Where a package's line units go in Shopify: on the order's fulfilment orders (`spread`, never
above `remainingQuantity`), at one location, the warehouse's (`locations.py`).

- Some unit cannot go (held, closed, incomplete, another location): the package waits whole,
  `blocked`, unless the lines elsewhere can be moved to one location (`moving`, `move.py`).
- Every unit already fulfilled by hand: `fulfilled_elsewhere`, nothing sent.
- Wholly at one location that is not the warehouse's (a store): moved to the warehouse's first,
  or, if Shopify will not move it, fulfilled where it is with `fulfilled_away_from_warehouse`.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sync_pipeline.lib.domain.fulfilment import (
    ALREADY_FULFILLED,
    ON_HOLD,
    OTHER_LOCATION,
    Allocation,
    FulfilmentOrderLine,
    gather,
    spread,
)
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.tracking import Tracking
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision, fulfil_away, package_exception
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger.despatches import PackageRow


def _names(order: ShopOrder) -> dict[str, str]:
    return {line.id: line.name or line.sku or line.id for line in order.lines}


def place(
    order: ShopOrder,
    p: PackageRow,
    allocation: Allocation,
    fo_lines: Sequence[FulfilmentOrderLine],
    tracking: Tracking,
    exceptions: list[ExceptionRecord],
    warehouse: str | None,
) -> Decision:
    """`allocation`: the package's whole line units (some); `warehouse`: the Shopify location id its
    site ships as (None: fulfilled wherever Shopify put it)."""
    number = p.package_number
    placed = spread(allocation.lines, fo_lines)
    blocking = {line: why for line, (_, why) in placed.short.items() if why != ALREADY_FULFILLED}
    if blocking:
        names = _names(order)
        kind = "fulfillment_on_hold" if ON_HOLD in blocking.values() else "fulfillment_order_closed"
        what = ", ".join(
            f"{names.get(line, line)} ({why.replace('_', ' ')})" for line, why in blocking.items()
        )
        split = OTHER_LOCATION in blocking.values()
        target = warehouse or placed.location_id
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
    where = next((f.location_name for f in fo_lines if f.location_id == placed.location_id), None)
    here = Decision(
        number,
        states.FULFILLING,
        "to fulfil",
        line_quantities=allocation.lines,
        excess=dict(allocation.excess),
        request=placed.request,
        placed=placed.lines,
        location_id=placed.location_id,
        location_name=where,
        tracking=tracking,
        exceptions=exceptions,
    )
    if warehouse is None or placed.location_id == warehouse:
        return here
    # Wholly at one location that is not the warehouse's (a store): fulfilled there, Shopify would
    # take the units off that store's stock though they never left it. Move them first.
    moves = gather(allocation.lines, fo_lines, warehouse)
    if moves is None:
        return fulfil_away(here, order, p, "Shopify offers no MOVE on its fulfilment order")
    if not moves:
        return here
    return replace(
        here, state=states.MOVING, reason=f"moving it from {where} to the warehouse's location",
        request={}, placed={}, location_id=None, location_name=None, moves=moves, instead=here,
    )  # fmt: skip
