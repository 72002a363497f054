"""An order's money as the sandbox states it: lines, discounts, tax, shipping, payments and refunds.

Shopify states every figure finance reads; the pipeline never recomputes them. The sandbox must
still produce figures that behave like Shopify's, so this module is the one place that computes
them, from the order's lines and its payment records (`payments.py`, `refunds.py`).

Assumptions (the rules are Shopify-like, the exact rounding is the sandbox's own):
- Every amount exists in the shop's currency and in the customer's (presentment) currency. A line's
  presentment unit price is its shop price × the order's rate, rounded to the penny; every figure
  is then computed in each currency from its own parts, so each currency adds up in itself (as on
  Shopify, where the presentment figures are not a conversion of the shop totals).
- An order-level discount (`discount_rate`, e.g. 10 %) is allocated to lines: a line's discount for
  n units is its gross × rate, rounded. Tax is per line on the discounted amount at `tax_rate`
  (included in the price, as UK VAT, or added on top, as US sales tax), and on shipping.
- Amounts for part of a line (a refund of k units) are the difference of the line's amounts before
  and after, so the refunded parts and what is left always add up to the whole, to the penny.
- `totalPriceSet` is before returns and refunds (edits included), `currentTotalPriceSet` after;
  `totalReceivedSet` is sales and captures, `totalRefundedSet` refunds, `netPaymentSet` the
  difference, `totalCapturableSet` what authorisations still allow to capture.
- `refundDiscrepancySet` is, over all refunds, what Shopify suggested paying back for the goods
  and shipping refunded less what was paid back (the schema: "a positive value indicates a
  difference in the merchant's favor, and a negative value ... in the customer's favor"). A
  goodwill refund (an amount, no line items) is all discrepancy: suggested 0, so −amount.
- `totalOutstandingSet` is "the total amount not yet transacted": current total − net payment +
  refund discrepancy (negative when the customer is owed money, e.g. after an edit took a paid
  unit off). So a refund pays back what it pays back, and is done: a goodwill refund leaves
  outstanding at 0 (it is not a balance for the customer to pay again), and units refunded with
  less (or no) money than suggested are not money still owed to the customer either.
- A free order (every line 0.00, or discounted to nothing) has no transaction at all and shows
  PAID, as on Shopify ("no payment gateway": nothing was taken).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import LineItem, Order

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Pair:
    """One figure in the shop's currency and the presentment currency."""

    shop: Decimal = ZERO
    presentment: Decimal = ZERO

    def __add__(self, other: Pair) -> Pair:
        return Pair(self.shop + other.shop, self.presentment + other.presentment)

    def __sub__(self, other: Pair) -> Pair:
        return Pair(self.shop - other.shop, self.presentment - other.presentment)

    def __neg__(self) -> Pair:
        return Pair(-self.shop, -self.presentment)


def total(pairs: list[Pair]) -> Pair:
    out = Pair()
    for p in pairs:
        out = out + p
    return out


def unit_price(order: Order, line: LineItem) -> Pair:
    return Pair(line.unit_price, cents(line.unit_price * order.rate))


def shipping_price(order: Order) -> Pair:
    price = order.shipping_line.price if order.shipping_line else ZERO
    return Pair(price, cents(price * order.rate))


@dataclass(frozen=True)
class LineMoney:
    gross: Pair
    discount: Pair
    net: Pair  # after discounts: what the subtotal counts (tax included when prices include it)
    tax: Pair


def _tax(order: Order, amount: Decimal) -> Decimal:
    rate = order.tax_rate
    return cents(amount * rate / (1 + rate)) if order.taxes_included else cents(amount * rate)


def line_money(order: Order, line: LineItem, units: int) -> LineMoney:
    """The amounts of `units` units of a line."""
    price = unit_price(order, line)
    gross = Pair(price.shop * units, price.presentment * units)
    discount = Pair(cents(gross.shop * order.discount_rate), cents(gross.presentment * order.discount_rate))
    net = gross - discount
    return LineMoney(gross, discount, net, Pair(_tax(order, net.shop), _tax(order, net.presentment)))


def part_of_line(order: Order, line: LineItem, before: int, after: int) -> LineMoney:
    """The amounts of the units a line goes from `before` to `after` by (a refund's share)."""
    a, b = line_money(order, line, before), line_money(order, line, after)
    return LineMoney(a.gross - b.gross, a.discount - b.discount, a.net - b.net, a.tax - b.tax)


def shipping_tax(order: Order, amount: Pair) -> Pair:
    return Pair(_tax(order, amount.shop), _tax(order, amount.presentment))


@dataclass(frozen=True)
class Totals:
    subtotal: Pair
    discounts: Pair
    shipping: Pair
    tax: Pair
    total: Pair
    current_subtotal: Pair
    current_discounts: Pair
    current_shipping: Pair
    current_tax: Pair
    current_total: Pair
    received: Pair
    refunded: Pair
    refunded_shipping: Pair
    net_payment: Pair
    refund_discrepancy: Pair
    outstanding: Pair
    capturable: Pair


def _order_figures(order: Order, units_of: dict[int, int], shipping: Pair) -> tuple[Pair, Pair, Pair, Pair]:
    """(subtotal, discounts, tax, total) for the given units per line and shipping."""
    parts = [line_money(order, li, units_of[li.id]) for li in order.line_items]
    subtotal = total([p.net for p in parts])
    discounts = total([p.discount for p in parts])
    tax = total([p.tax for p in parts]) + shipping_tax(order, shipping)
    grand = subtotal + shipping + (Pair() if order.taxes_included else tax)
    return subtotal, discounts, tax, grand


def totals(order: Order) -> Totals:
    """Every money figure of the order, as Shopify would state it now."""
    refunded_units = {li.id: 0 for li in order.line_items}
    refunded_shipping = Pair()
    for refund in order.refunds:
        for rl in refund.lines:
            refunded_units[rl.line_item_id] += rl.quantity
        refunded_shipping = refunded_shipping + refund.shipping
    before_returns = {li.id: li.current_quantity + refunded_units[li.id] for li in order.line_items}
    now = {li.id: li.current_quantity for li in order.line_items}
    shipping = shipping_price(order)
    subtotal, discounts, tax, grand = _order_figures(order, before_returns, shipping)
    current_shipping = shipping - refunded_shipping
    c_subtotal, c_discounts, c_tax, c_total = _order_figures(order, now, current_shipping)
    ok = [t for t in order.transactions if t.status == "SUCCESS"]
    received = total([t.amount for t in ok if t.kind in ("SALE", "CAPTURE")])
    refunded = total([t.amount for t in ok if t.kind == "REFUND"])
    net = received - refunded
    discrepancy = refund_discrepancy(order)
    return Totals(
        subtotal, discounts, shipping, tax, grand,
        c_subtotal, c_discounts, current_shipping, c_tax, c_total,
        received, refunded, refunded_shipping, net, discrepancy, c_total - net + discrepancy, capturable(order),
    )  # fmt: skip


def refund_discrepancy(order: Order) -> Pair:
    """Suggested less paid back, over the order's refunds (negative: the customer got more)."""
    out = Pair()
    for refund in order.refunds:
        given = total(
            [t.amount for t in order.transactions if t.id in refund.transaction_ids and t.status == "SUCCESS"]
        )
        out = out + refund.suggested - given
    return out


def capturable(order: Order) -> Pair:
    """What open authorisations still allow to capture (not adjusted for returns)."""
    left = Pair()
    for auth in order.transactions:
        if auth.kind != "AUTHORIZATION" or auth.status != "SUCCESS" or auth.closed:
            continue
        captured = total([t.amount for t in order.transactions
                          if t.parent_id == auth.id and t.kind == "CAPTURE" and t.status == "SUCCESS"])  # fmt: skip
        left = left + (auth.amount - captured)
    return left


def financial_status(order: Order) -> str:
    """`displayFinancialStatus` from the payment records."""
    t = totals(order)
    ok = [x for x in order.transactions if x.status == "SUCCESS"]
    if any(x.kind == "REFUND" for x in ok):
        return "REFUNDED" if t.net_payment.shop <= ZERO else "PARTIALLY_REFUNDED"
    if t.received.shop > ZERO:
        # Paid when nothing is left to transact: units refunded before payment are not owed.
        return "PAID" if t.outstanding.shop <= ZERO else "PARTIALLY_PAID"
    if t.capturable.shop > ZERO:
        return "AUTHORIZED"
    if any(x.kind == "VOID" for x in ok) or order.cancelled_at is not None:
        return "VOIDED"
    if t.total.shop <= ZERO and not ok:
        return "PAID"  # nothing to pay, no transaction (a free order, as Shopify shows it)
    return "PENDING"
