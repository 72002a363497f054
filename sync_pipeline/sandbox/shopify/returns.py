"""Returns: `returnCreate`, `returnProcess`, `returnClose` and `Order.returnStatus`.

Assumptions (stricter where Shopify does not document the behaviour):
- A return (`returnCreate`) is OPEN at once, for fulfilled units still with the customer and not
  claimed by another return; `returnProcess` confirms quantities (dispositions are refused: the
  sandbox serves no reverse fulfilment orders) and may refund them (restock type RETURN) through
  `financialTransfer.issueRefund`; a return is CLOSED by `returnClose` or once every unit is
  processed. REQUESTED, DECLINED and CANCELED returns are not modelled.
- `Order.returnStatus`: NO_RETURN, IN_PROGRESS while a return is open, RETURNED once all are closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .ids import parse_gid
from .payments import PaymentError
from .refunds import MoneyBack, Refund, RefundLineRequest, refund

if TYPE_CHECKING:
    from .model import LineItem, Order
    from .store import Store


@dataclass
class ReturnLine:
    id: int
    fulfillment_line_item_id: int
    line_item_id: int
    quantity: int
    reason: str | None
    note: str
    processed_quantity: int = 0
    refunded_quantity: int = 0


@dataclass
class Return:
    id: int
    order_id: int
    name: str
    created_at: datetime
    status: str = "OPEN"  # OPEN, CLOSED (REQUESTED, DECLINED, CANCELED not modelled)
    closed_at: datetime | None = None
    lines: list[ReturnLine] = field(default_factory=list)
    refund_ids: list[int] = field(default_factory=list)


def return_status(order: Order, returns: list[Return]) -> str:
    if not returns:
        return "NO_RETURN"
    if any(r.status == "OPEN" for r in returns):
        return "IN_PROGRESS"
    return "RETURNED"


def returnable(line: LineItem, returns: list[Return]) -> int:
    """Fulfilled units of a line still with the customer and not claimed by a return already."""
    claimed = sum(rl.quantity - rl.refunded_quantity for r in returns if r.status in ("OPEN", "CLOSED")
                  for rl in r.lines if rl.line_item_id == line.id)  # fmt: skip
    return max(0, line.fulfilled_quantity - line.refunded_fulfilled - claimed)


def _fulfilment_line(store: Store, order: Order, ref: str) -> tuple[int, LineItem] | None:
    number = parse_gid(ref, "FulfillmentLineItem")
    for fid in order.fulfillment_ids:
        for row_id, line_id, _ in store.fulfillments[fid].lines:
            if row_id == number:
                return row_id, next(li for li in order.line_items if li.id == line_id)
    return None


def create_return(store: Store, order: Order, items: list[dict[str, object]]) -> Return:
    """`returnCreate`: an OPEN return of fulfilled units still with the customer."""
    returns = [store.returns[i] for i in order.return_ids]
    record = Return(store.ids.next(), order.id, f"{order.name}-R{len(returns) + 1}", store.now())
    if not items:
        raise PaymentError("At least one return line item is required.", ["returnLineItems"], "BLANK")
    for index, item in enumerate(items):
        path = ["returnLineItems", str(index)]
        found = _fulfilment_line(store, order, str(item["fulfillmentLineItemId"]))
        if found is None:
            raise PaymentError(
                "Fulfillment line item does not exist.", [*path, "fulfillmentLineItemId"], "NOT_FOUND"
            )
        row_id, line = found
        quantity = int(item["quantity"])  # type: ignore[call-overload]
        claimed = sum(rl.quantity for rl in record.lines if rl.line_item_id == line.id)
        if quantity < 1 or quantity + claimed > returnable(line, returns):
            raise PaymentError("Quantity is more than can be returned.", [*path, "quantity"], "INVALID")
        record.lines.append(ReturnLine(store.ids.next(), row_id, line.id, quantity, item.get("returnReason"),  # type: ignore[arg-type]
                                       str(item.get("returnReasonNote") or "")))  # fmt: skip
    store.returns[record.id] = record
    order.return_ids.append(record.id)
    return record


def process_return(
    store: Store,
    order: Order,
    record: Return,
    items: list[dict[str, object]],
    money_back: list[MoneyBack] | None,
    note: str | None,
) -> Refund | None:
    """`returnProcess`: confirm units received; with `money_back` given, refund them (RETURN)."""
    if record.status != "OPEN":
        raise PaymentError(f"Return is {record.status.lower()}, not open.", ["returnId"], "INVALID_STATE")
    confirmed: list[tuple[ReturnLine, int]] = []
    for index, item in enumerate(items):
        path = ["returnLineItems", str(index)]
        if item.get("dispositions"):
            raise PaymentError(
                "Reverse fulfillment order line item does not exist.", [*path, "dispositions"], "NOT_FOUND"
            )
        number = parse_gid(str(item["id"]), "ReturnLineItem")
        rl = next((x for x in record.lines if x.id == number), None)
        if rl is None:
            raise PaymentError("Return line item does not exist.", [*path, "id"], "NOT_FOUND")
        quantity = int(item["quantity"])  # type: ignore[call-overload]
        if quantity < 1 or quantity > rl.quantity - rl.processed_quantity:
            raise PaymentError("Quantity is more than is left to process.", [*path, "quantity"], "INVALID")
        confirmed.append((rl, quantity))
    refund_record = None
    if money_back is not None and confirmed:
        lines = {li.id: li for li in order.line_items}
        requests = [RefundLineRequest(lines[rl.line_item_id], q, "RETURN") for rl, q in confirmed]
        refund_record = refund(store, order, requests, None, money_back, note, return_id=record.id)
        record.refund_ids.append(refund_record.id)
        for rl, q in confirmed:
            rl.refunded_quantity += q
    for rl, q in confirmed:
        rl.processed_quantity += q
    if all(rl.processed_quantity == rl.quantity for rl in record.lines):
        close_return(store, record)
    return refund_record


def close_return(store: Store, record: Return) -> None:
    if record.status == "CLOSED":
        return
    if record.status != "OPEN":
        raise PaymentError(f"Return is {record.status.lower()}, not open.", ["id"], "INVALID_STATE")
    record.status = "CLOSED"
    record.closed_at = store.now()
