"""`fulfillmentCancel`: a merchant takes a fulfilment back in the admin (the parcel is no longer
shown as shipped).

What the official schema documents (admin_2026-10, `Mutation.fulfillmentCancel`) and the sandbox
does: the fulfilment's units go back to be fulfilled again. A fulfilment order that was partly
fulfilled (still OPEN or IN_PROGRESS) has its remaining quantities raised by them; for one that was
entirely fulfilled (CLOSED) a new fulfilment order is made at the original location for the cancelled
units. The fulfilment's `status` becomes CANCELLED, the lines' fulfilled quantities (and so the
order's `displayFulfillmentStatus`) go down, and `fulfillments/update` and `orders/updated` fire.

Assumptions (stricter where Shopify does not document the behaviour):
- Cancelling an unknown fulfilment, or one already CANCELLED, is a user error (no code) that
  changes nothing; the messages are ours.
- The units are committed again at the fulfilment's location (they are owed to the order again).
- No email goes to the customer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .ids import gid, parse_gid
from .model import Fulfillment, FulfillmentOrder, FulfillmentOrderLine, Order
from .mutations import MutationResolvers
from .store import Store
from .views import FulfillmentView

STILL_OPEN = ("OPEN", "IN_PROGRESS")


def _refused(message: str) -> dict[str, Any]:
    return {"fulfillment": None, "userErrors": [{"field": ["id"], "message": message}]}


class FulfillmentCancels(MutationResolvers):
    store: Store

    def fulfillmentCancel(self, info: Any, id: str) -> dict[str, Any]:
        store = self.store
        with store.lock:
            record = store.fulfillments.get(parse_gid(id, "Fulfillment") or -1)
            if record is None:
                return _refused("Fulfillment does not exist.")
            if record.status == "CANCELLED":
                return _refused("Fulfillment has already been cancelled.")
            order = store.orders[record.order_id]
            now = datetime.now(UTC)
            self._owe_again(order, record, now)
            record.status = "CANCELLED"
            record.updated_at = now
            store._touch(order)
            store._event(order, "fulfillment_cancelled", fulfillment=gid("Fulfillment", record.id))
            store.emit("FULFILLMENTS_UPDATE", {"order": order.id, "fulfillment": record.id})
            store.emit("ORDERS_UPDATED", {"order": order.id})
            return {"fulfillment": FulfillmentView(store, record), "userErrors": []}

    def _owe_again(self, order: Order, record: Fulfillment, now: datetime) -> None:
        store = self.store
        location_id = record.location_id or next(iter(store.locations.values())).id
        fulfilment_orders = [store.fulfillment_orders[i] for i in order.fulfillment_order_ids]
        reopened: FulfillmentOrder | None = None
        for _, line_item_id, quantity in record.lines:
            line = next(li for li in order.line_items if li.id == line_item_id)
            line.fulfilled_quantity -= quantity
            store.move_stock(line, location_id, quantity, 0)
            held = next(
                (fo for fo in fulfilment_orders
                 if fo.location_id == location_id and fo.status in STILL_OPEN
                 and any(x.line_item_id == line_item_id and x.remaining_quantity + quantity <= x.total_quantity
                         for x in fo.lines)),
                None,
            )  # fmt: skip
            if held is not None:
                fol = next(x for x in held.lines if x.line_item_id == line_item_id)
                fol.remaining_quantity += quantity
                if all(x.remaining_quantity == x.total_quantity for x in held.lines):
                    held.status = "OPEN"  # nothing of it fulfilled any more
                held.updated_at = now
                continue
            if reopened is None:
                reopened = store.new_fulfillment_order(order, location_id)
            reopened.lines.append(FulfillmentOrderLine(store.ids.next(), line_item_id, quantity, quantity))
