"""Refunds: `refundCreate`, `suggestedRefund` and the refund a cancellation makes.

Assumptions (stricter where Shopify does not document the behaviour):
- `refundCreate` moves money only through the transactions it is given (none: the refund records
  the line items and restocking only, as on Shopify). A refund transaction names a SALE or CAPTURE
  as its parent and never takes more than that parent has left.
- Restock types: CANCEL only for unfulfilled units, RETURN only for fulfilled ones; NO_RESTOCK for
  either (unfulfilled units first; they are then removed from the order too). Refunded units leave
  the line's `currentQuantity`; unfulfilled ones also leave its fulfilment order, their committed
  stock is freed and made available again only with CANCEL. RETURN does not move Shopify
  inventory: in this integration the warehouse's return reaches Shopify through the stock flow,
  so a merchant must not restock twice.
- A refund's *suggested* amount is what `suggestedRefund` would pay back for its goods and
  shipping, capped at what the order's payments can still give (nothing on an unpaid order). Money
  paid back beyond it (a goodwill refund: an amount and no line items) or short of it is the
  order's `refundDiscrepancySet` (suggested less paid, summed over refunds: negative in the
  customer's favour), and it is not outstanding: `money.totals`.
- Cancelling refunds everything received, with every unfulfilled unit (restock type CANCEL, or
  NO_RESTOCK without restock) and the shipping, in one refund.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from . import money
from .money import Pair
from .payments import PaymentError, Transaction, record_transaction, settle, void_authorisations

if TYPE_CHECKING:
    from .model import LineItem, Order
    from .store import Store

RESTOCK_TYPES = ("CANCEL", "RETURN", "NO_RESTOCK", "LEGACY_RESTOCK")


@dataclass
class RefundLine:
    id: int
    line_item_id: int
    quantity: int
    restock_type: str
    location_id: int | None
    subtotal: Pair
    tax: Pair
    unit_price: Pair

    @property
    def restocked(self) -> bool:
        return self.restock_type in ("CANCEL", "RETURN", "LEGACY_RESTOCK")


@dataclass
class Refund:
    id: int
    order_id: int
    created_at: datetime
    note: str | None
    lines: list[RefundLine] = field(default_factory=list)
    shipping: Pair = field(default_factory=Pair)
    shipping_tax: Pair = field(default_factory=Pair)
    transaction_ids: list[int] = field(default_factory=list)
    return_id: int | None = None
    # What Shopify suggested paying back for this refund's goods and shipping (capped at what the
    # payments could still give): the refund discrepancy is this less what was paid back.
    suggested: Pair = field(default_factory=Pair)


@dataclass(frozen=True)
class RefundLineRequest:
    line: LineItem
    quantity: int
    restock_type: str
    location_id: int | None = None


@dataclass(frozen=True)
class Suggestion:
    lines: list[RefundLine]
    shipping: Pair
    shipping_tax: Pair
    subtotal: Pair
    tax: Pair
    amount: Pair  # what the customer gets back: line subtotals (+ tax when not included) + shipping
    parents: list[tuple[Transaction, Pair]]  # SALE/CAPTURE transactions and what each can still give


def unfulfilled_units(line: LineItem) -> int:
    """Current units not shipped yet (fulfilled units refunded since are no longer the customer's)."""
    return max(0, line.current_quantity - (line.fulfilled_quantity - line.refunded_fulfilled))


def _refundable_units(line: LineItem, restock: str) -> int:
    if restock == "CANCEL":
        return unfulfilled_units(line)
    if restock == "RETURN":
        return min(line.fulfilled_quantity - line.refunded_fulfilled, line.current_quantity)
    return line.current_quantity


def suggest(
    store: Store, order: Order, requests: list[RefundLineRequest], shipping: Pair | None
) -> Suggestion:
    """Amounts of a refund of these units (and shipping), checked against what can be refunded."""
    lines: list[RefundLine] = []
    seen: dict[int, int] = {}
    for index, r in enumerate(requests):
        path = ["refundLineItems", str(index)]
        if r.restock_type not in RESTOCK_TYPES:
            raise PaymentError(f"Restock type {r.restock_type} is invalid.", [*path, "restockType"])
        already = seen.get(r.line.id, 0)
        if r.quantity < 1 or r.quantity + already > _refundable_units(r.line, r.restock_type):
            raise PaymentError(
                f"Quantity cannot refund more items than were {'fulfilled' if r.restock_type == 'RETURN' else 'purchased'}.",
                [*path, "quantity"],
            )
        current = r.line.current_quantity - already
        part = money.part_of_line(order, r.line, current, current - r.quantity)
        lines.append(RefundLine(store.ids.next(), r.line.id, r.quantity, r.restock_type, r.location_id,
                                part.net, part.tax, money.unit_price(order, r.line)))  # fmt: skip
        seen[r.line.id] = already + r.quantity
    t = money.totals(order)
    ship = shipping or Pair()
    if ship.shop < 0 or ship.shop > t.current_shipping.shop:
        raise PaymentError("Shipping refund is more than the shipping left to refund.", ["shipping"])
    ship_tax = money.shipping_tax(order, ship)
    subtotal = money.total([rl.subtotal for rl in lines])
    tax = money.total([rl.tax for rl in lines]) + ship_tax
    amount = subtotal + ship + (Pair() if order.taxes_included else tax)
    return Suggestion(lines, ship, ship_tax, subtotal, tax, amount, _refundable_parents(order))


def _refundable_parents(order: Order) -> list[tuple[Transaction, Pair]]:
    out = []
    for parent in order.transactions:
        if parent.kind in ("SALE", "CAPTURE") and parent.status == "SUCCESS":
            given = money.total([t.amount for t in order.transactions
                                 if t.parent_id == parent.id and t.kind == "REFUND" and t.status == "SUCCESS"])  # fmt: skip
            left = parent.amount - given
            if left.shop > 0:
                out.append((parent, left))
    return out


@dataclass(frozen=True)
class MoneyBack:
    parent_id: int
    amount: Decimal  # presentment currency, as `OrderTransactionInput.amount`


def refund(
    store: Store,
    order: Order,
    requests: list[RefundLineRequest],
    shipping: Pair | None,
    money_back: list[MoneyBack],
    note: str | None = None,
    return_id: int | None = None,
) -> Refund:
    """Record a refund: its lines leave the order (and unfulfilled ones its fulfilment order), and
    each REFUND transaction takes money back from its parent payment."""
    plan = suggest(store, order, requests, shipping)
    parents = {p.id: left for p, left in plan.parents}
    # Money given back exactly as suggested keeps the suggestion's shop amounts (split over the
    # payments in proportion, the last taking the rest); any other amount is converted at the rate.
    as_suggested = sum((b.amount for b in money_back), Decimal(0)) == plan.amount.presentment
    shop_left = plan.amount.shop
    transactions = []
    for index, back in enumerate(money_back):
        left = parents.get(back.parent_id)
        path = ["transactions", str(index)]
        if left is None:
            raise PaymentError(
                "Parent transaction could not be found or has nothing left to refund.", [*path, "parentId"]
            )
        if back.amount <= 0 or back.amount > left.presentment:
            raise PaymentError(
                f"Amount must be more than 0 and at most {left.presentment}.", [*path, "amount"]
            )
        if as_suggested:
            last = index == len(money_back) - 1
            shop = (
                shop_left if last else money.cents(plan.amount.shop * back.amount / plan.amount.presentment)
            )
        elif back.amount == left.presentment:
            shop = left.shop
        else:
            shop = money.cents(back.amount / order.rate)
        shop = min(shop, left.shop)
        shop_left -= shop
        transactions.append((back.parent_id, Pair(shop, back.amount)))
        parents[back.parent_id] = left - Pair(shop, back.amount)
    available = money.total([left for _, left in plan.parents])
    suggested = Pair(
        min(plan.amount.shop, available.shop), min(plan.amount.presentment, available.presentment)
    )
    record = Refund(store.ids.next(), order.id, store.now(), note, plan.lines, plan.shipping, plan.shipping_tax,
                    return_id=return_id, suggested=suggested)  # fmt: skip
    for request, line in zip(requests, plan.lines, strict=True):
        _take_off(store, order, request, line)
    gateway = next((t.gateway for t in order.transactions if t.kind in ("SALE", "CAPTURE")), "manual")
    for parent_id, amount in transactions:
        record.transaction_ids.append(
            record_transaction(store, order, "REFUND", amount, gateway, parent_id=parent_id).id
        )
    order.refunds.append(record)
    settle(order)
    return record


def _take_off(store: Store, order: Order, request: RefundLineRequest, line: RefundLine) -> None:
    """Refunded units leave the line; unfulfilled ones also leave its fulfilment order and free their
    committed stock (made available again only when restocked: CANCEL)."""
    li = request.line
    if request.restock_type == "RETURN":
        shipped = line.quantity
    elif request.restock_type == "CANCEL":
        shipped = 0
    else:  # NO_RESTOCK takes unfulfilled units first
        shipped = max(0, line.quantity - unfulfilled_units(li))
    li.current_quantity -= line.quantity
    li.refunded_fulfilled += shipped
    unshipped = line.quantity - shipped
    fo, fol = store.fo_line(order, li)
    if unshipped and fo is not None and fol is not None:
        take = min(unshipped, fol.remaining_quantity)
        fol.remaining_quantity -= take
        fol.total_quantity -= take
        store.move_stock(li, fo.location_id, -take, take if request.restock_type == "CANCEL" else 0)
        if all(x.remaining_quantity == 0 for x in fo.lines) and fo.status in (
            "OPEN",
            "IN_PROGRESS",
            "ON_HOLD",
        ):
            fo.status = "CLOSED"
        fo.updated_at = store.now()


def refund_everything_left(store: Store, order: Order, restock: bool) -> Refund | None:
    """Cancelling: every unfulfilled unit is cancelled and what was received goes back."""
    void_authorisations(store, order)
    requests = []
    for li in order.line_items:
        units = unfulfilled_units(li)
        if units > 0:
            requests.append(RefundLineRequest(li, units, "CANCEL" if restock else "NO_RESTOCK"))
    shipping = money.totals(order).current_shipping
    backs = [MoneyBack(p.id, left.presentment) for p, left in _refundable_parents(order)]
    if not requests and not backs and shipping.shop == 0:
        settle(order)
        return None
    return refund(store, order, requests, shipping, backs, note="Order cancelled")
