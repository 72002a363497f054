"""`fulfillmentOrderMove`: assign a fulfilment order's unfulfilled line items to another location.

What the official schema documents (admin_2026-10, `Mutation.fulfillmentOrderMove`) and the
sandbox does: the move fails when the fulfilment order is closed or has had progress reported
(code `CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS`) or the destination does not stock
an item; fulfilled units never move; moving every unfulfilled unit of a fulfilment order with
nothing fulfilled re-assigns that fulfilment order itself (`movedFulfillmentOrder` is the
original); moving part of it creates a new fulfilment order at the destination.

Assumptions (stricter where Shopify does not document the behaviour):
- `MOVE` is offered (and the move allowed) only for `OPEN` and `IN_PROGRESS` fulfilment orders
  without reported progress; `ON_HOLD`, `CLOSED`, `INCOMPLETE` and `CANCELLED` refuse, the held one
  too (release it first).
- A partial move closes the original fulfilment order and recreates what stays behind in a new one
  at the original location (`remainingFulfillmentOrder`, deprecated in the schema but filled), as
  the schema's text describes for a destination that already has an active fulfilment order. We
  do it for every partial move: fulfilment order line item ids change, so a client must read them
  again (or take them from the answer) before fulfilling.
- Moving to the location the fulfilment order is already assigned to is refused, as is a
  destination that does not exist or is inactive; user errors other than reported progress carry
  no code (the schema's enum has only that one). The messages are ours.
- Committed stock follows the units from the old location to the new one; the order's `updatedAt`
  moves and `orders/updated` fires.
"""

from __future__ import annotations

from typing import Any

from .ids import parse_gid
from .model import FulfillmentOrder, FulfillmentOrderLine
from .mutations import MutationResolvers
from .store import Store
from .views import FulfillmentOrderView

MOVABLE = ("OPEN", "IN_PROGRESS")
REPORTED_PROGRESS = "CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS"


def can_move(fo: FulfillmentOrder) -> bool:
    return fo.status in MOVABLE and not fo.progress_reported


def _refused(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    error = {"field": field, "message": message, "code": code}
    return {
        "movedFulfillmentOrder": None,
        "originalFulfillmentOrder": None,
        "remainingFulfillmentOrder": None,
        "userErrors": [error],
    }


class FulfillmentOrderMoves(MutationResolvers):
    store: Store

    def fulfillmentOrderMove(
        self,
        info: Any,
        id: str,
        newLocationId: str,
        fulfillmentOrderLineItems: list[dict[str, Any]] | None = None,
    ) -> Any:
        store = self.store
        with store.lock:
            fo = store.fulfillment_orders.get(parse_gid(id, "FulfillmentOrder") or -1)
            if fo is None:
                return _refused(["id"], "Fulfillment order does not exist.")
            destination = store.locations.get(parse_gid(newLocationId, "Location") or -1)
            if destination is None or not destination.is_active:
                return _refused(["newLocationId"], "Location does not exist or is not active.")
            if fo.progress_reported:
                return _refused(
                    ["id"], "Cannot move a fulfillment order that has progress reported.", REPORTED_PROGRESS
                )
            if not can_move(fo):
                return _refused(["id"], f"Fulfillment order with status {fo.status} cannot be moved.")
            if fo.location_id == destination.id:
                return _refused(["newLocationId"], "Fulfillment order is already assigned to this location.")
            moving, error = _units(fo, fulfillmentOrderLineItems)
            if error is not None:
                return error
            order = store.orders[fo.order_id]
            for fol, _ in moving:
                line = next(li for li in order.line_items if li.id == fol.line_item_id)
                variant = store.variants.get(line.variant_id or -1)
                tracked = variant is not None and store.items[variant.inventory_item_id].tracked
                if tracked and store.level(variant.inventory_item_id, destination.id) is None:  # type: ignore[union-attr]
                    return _refused(["newLocationId"], f"The destination location doesn't stock {line.sku}.")
            moved, remaining = self._move_lines(fo, destination.id, moving)
            store._touch(order)
            store._event(order, "fulfillment_order_moved", to=destination.name)
            store.emit("ORDERS_UPDATED", {"order": order.id})
            return {
                "movedFulfillmentOrder": FulfillmentOrderView(store, moved),
                "originalFulfillmentOrder": FulfillmentOrderView(store, fo),
                "remainingFulfillmentOrder": remaining and FulfillmentOrderView(store, remaining),
                "userErrors": [],
            }

    def _move_lines(
        self, fo: FulfillmentOrder, destination: int, moving: list[tuple[FulfillmentOrderLine, int]]
    ) -> tuple[FulfillmentOrder, FulfillmentOrder | None]:
        store = self.store
        order = store.orders[fo.order_id]
        now = store.now()
        for fol, qty in moving:
            line = next(li for li in order.line_items if li.id == fol.line_item_id)
            store.move_stock(line, fo.location_id, -qty, qty)
            store.move_stock(line, destination, qty, -qty)
        whole = {fol.id: qty for fol, qty in moving}
        untouched = all(x.total_quantity == x.remaining_quantity for x in fo.lines)
        if untouched and all(whole.get(x.id, 0) == x.remaining_quantity for x in fo.lines):
            fo.location_id, fo.updated_at = destination, now
            return fo, None
        moved = store.new_fulfillment_order(order, destination)
        stays: list[tuple[int, int]] = []
        for fol in fo.lines:
            qty = whole.get(fol.id, 0)
            if qty:
                moved.lines.append(FulfillmentOrderLine(store.ids.next(), fol.line_item_id, qty, qty))
            if fol.remaining_quantity - qty:
                stays.append((fol.line_item_id, fol.remaining_quantity - qty))
            # The original keeps only what was fulfilled from it, and closes.
            fol.total_quantity -= fol.remaining_quantity
            fol.remaining_quantity = 0
        fo.lines = [x for x in fo.lines if x.total_quantity]
        fo.status, fo.updated_at = "CLOSED", now
        remaining = None
        if stays:
            remaining = store.new_fulfillment_order(order, fo.location_id)
            remaining.lines = [FulfillmentOrderLine(store.ids.next(), li, q, q) for li, q in stays]
        return moved, remaining


def _units(
    fo: FulfillmentOrder, wanted: list[dict[str, Any]] | None
) -> tuple[list[tuple[FulfillmentOrderLine, int]], dict[str, Any] | None]:
    if wanted is None:
        moving = [(x, x.remaining_quantity) for x in fo.lines if x.remaining_quantity]
        return moving, None if moving else _refused(["id"], "Fulfillment order has nothing left to move.")
    moving = []
    for index, item in enumerate(wanted):
        fol = next((x for x in fo.lines if x.id == parse_gid(item["id"], "FulfillmentOrderLineItem")), None)
        path = ["fulfillmentOrderLineItems", str(index)]
        if fol is None:
            return [], _refused([*path, "id"], "Fulfillment order line item does not exist.")
        if item["quantity"] < 1 or item["quantity"] > fol.remaining_quantity:
            return [], _refused(
                [*path, "quantity"], "Invalid fulfillment order line item quantity requested."
            )
        moving.append((fol, item["quantity"]))
    if len({fol.id for fol, _ in moving}) != len(moving):
        return [], _refused(
            ["fulfillmentOrderLineItems"], "Each fulfillment order line item may appear once."
        )
    return moving, None
