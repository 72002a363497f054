"""Finance reconciliation rules: one status per order from its Shopify money and warehouse units.

These pure functions are the specification. The ledger computes the same thing in SQL over a
million orders (`lib/ledger/reconciliation.py`); a property test holds the two to the same answer
for any generated ledger.

Units are counted in **Shopify line units** of lines that ship (gift cards and digital goods
left out); a bundle unit is one unit however many item codes the warehouse picks for it.

- `units_current`: Shopify's `currentQuantity`, i.e. ordered minus units removed by edits and
  refunded.
- `units_refunded_shipped`: units refunded with restock type RETURN or NO_RESTOCK (or the
  legacy one): refunds that may be for goods already shipped. CANCEL refunds are for units never
  shipped and are already out of `units_current`.
- `units_refunded_for_return`: of those, restock type RETURN: the goods are expected back.
- `units_despatched` / `units_returned`: what Peoplevox shipped and took back.
- `units_returned_unmatched`: item units Peoplevox took back on the order that no line of it is
  made of (after overrides and bundles): in no line's count, so counted apart.

**Units to despatch** = current units, plus refunded units that had already shipped (a refund
after despatch does not make a despatch wrong). A unit refunded to be returned (RETURN) had
shipped: Shopify refunds RETURN only for fulfilled units. One refunded without restock
(NO_RESTOCK) may not have: it counts as far as the warehouse shipped beyond the rest:
`current + for_return + min(refunded_shipped - for_return, max(0, despatched - current - for_return))`.
(Counting the RETURN units only as far as the warehouse shipped beyond the current units, as
before, hid a paid unit not shipped yet behind a shipped one refunded.)

**Paid** is decided from the money, not from Shopify's `totalOutstandingSet` alone: what the
customer owes is the order's current total (after edits, and after the goods and shipping refunded);
what counts towards it is the net payment (received − refunded) plus what the merchant chose to
give back beyond the goods refunded (a goodwill refund: Shopify's refund discrepancy, negative in the
customer's favour), less what the merchant kept of a refund Shopify suggested:
`unpaid = current_total − (net_payment − refund_discrepancy)`. A goodwill refund leaves a paid order
paid; an edit that raised the total, a part capture or no payment leaves it unpaid.

Statuses, first match wins (docs/finance_flow.md says what to do about each):

| status | when |
|---|---|
| `cancelled_but_despatched` | cancelled in Shopify, and more units shipped than came back |
| `paid_not_despatched` | cancelled, nothing (net) shipped, but money kept (net payment > 0) |
| `matched` | cancelled, nothing (net) shipped, nothing kept |
| `fulfilled_not_captured` | something shipped while an authorised amount is still uncaptured |
| `despatched_not_paid` | something shipped while the order is unpaid (`unpaid` > 0) and no authorisation covers it |
| `quantity_mismatch` | more shipped than there is to ship, more returned than shipped, or an item returned that no line of the order has |
| `returned_not_refunded` | more units came back than were refunded after despatch |
| `refunded_not_returned` | units refunded "to be returned" (RETURN) that have not come back |
| `paid_not_despatched` | not all shipped, paid (or authorised) longer ago than the despatch SLA |
| `awaiting_despatch` | not all shipped yet: inside the SLA, or not paid yet |
| `matched` | everything else: what shipped is what was ordered, returns and refunds agree, money settled |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

MATCHED = "matched"
AWAITING_DESPATCH = "awaiting_despatch"
PAID_NOT_DESPATCHED = "paid_not_despatched"
DESPATCHED_NOT_PAID = "despatched_not_paid"
CANCELLED_BUT_DESPATCHED = "cancelled_but_despatched"
REFUNDED_NOT_RETURNED = "refunded_not_returned"
RETURNED_NOT_REFUNDED = "returned_not_refunded"
QUANTITY_MISMATCH = "quantity_mismatch"
FULFILLED_NOT_CAPTURED = "fulfilled_not_captured"

# Every status, in the order finance reads them (the summary's columns follow it).
STATUSES: tuple[str, ...] = (
    MATCHED,
    AWAITING_DESPATCH,
    PAID_NOT_DESPATCHED,
    DESPATCHED_NOT_PAID,
    CANCELLED_BUT_DESPATCHED,
    REFUNDED_NOT_RETURNED,
    RETURNED_NOT_REFUNDED,
    QUANTITY_MISMATCH,
    FULFILLED_NOT_CAPTURED,
)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class OrderFigures:
    """One order's figures as the reconciliation reads them (amounts in one currency)."""

    cancelled: bool
    units_current: int
    units_refunded_shipped: int
    units_refunded_for_return: int
    units_despatched: int
    units_returned: int
    net_payment: Decimal = ZERO
    current_total: Decimal = ZERO
    refund_discrepancy: Decimal = ZERO
    capturable: Decimal = ZERO
    paid_at: datetime | None = None
    units_returned_unmatched: int = 0


def unpaid(f: OrderFigures) -> Decimal:
    """What the customer still owes for the order as it stands: its current total, less the money
    kept against it (net payment, with goodwill given back counted as kept: it was the merchant's
    choice, not the customer's debt). Negative when the customer is owed money."""
    return f.current_total - (f.net_payment - f.refund_discrepancy)


def units_to_despatch(f: OrderFigures) -> int:
    """What should ship: current units plus refunded units that had shipped before the refund (all
    those refunded to be returned; those refunded without restock as far as the warehouse shipped
    them)."""
    shipped = f.units_current + f.units_refunded_for_return
    kept = f.units_refunded_shipped - f.units_refunded_for_return
    return shipped + min(kept, max(0, f.units_despatched - shipped))


def status(f: OrderFigures, as_of: datetime, sla: timedelta) -> str:
    """The one status of an order (see the module doc for the table)."""
    shipped, returned = f.units_despatched, f.units_returned
    if f.cancelled:
        if shipped > returned:
            return CANCELLED_BUT_DESPATCHED
        return PAID_NOT_DESPATCHED if f.net_payment > ZERO else MATCHED
    if shipped > 0 and f.capturable > ZERO:
        return FULFILLED_NOT_CAPTURED
    if shipped > 0 and unpaid(f) > ZERO:
        return DESPATCHED_NOT_PAID
    expected = units_to_despatch(f)
    if shipped > expected or returned > shipped or f.units_returned_unmatched > 0:
        return QUANTITY_MISMATCH
    if returned > f.units_refunded_shipped:
        return RETURNED_NOT_REFUNDED
    if f.units_refunded_for_return > returned:
        return REFUNDED_NOT_RETURNED
    if shipped < expected:
        if f.paid_at is not None and f.paid_at + sla <= as_of:
            return PAID_NOT_DESPATCHED
        return AWAITING_DESPATCH
    return MATCHED


@dataclass(frozen=True)
class ReconciledOrder:
    """What the summary needs of one reconciled order (amounts in one currency)."""

    order_date: date
    currency: str
    status: str
    total_price: Decimal
    refunded: Decimal
    received: Decimal
    despatched_value: Decimal


@dataclass
class DaySummary:
    """One day and currency: revenue, refunds, net, despatched value, and orders and value per status."""

    orders: int = 0
    revenue: Decimal = ZERO
    refunds: Decimal = ZERO
    received: Decimal = ZERO
    despatched_value: Decimal = ZERO
    by_status: dict[str, tuple[int, Decimal]] | None = None

    @property
    def net(self) -> Decimal:
        return self.revenue - self.refunds


def summarise(orders: Iterable[ReconciledOrder]) -> dict[tuple[date, str], DaySummary]:
    """Per (order date, currency). Each order's value (Shopify's total price) lands in exactly one
    status, so the values per status sum to the day's revenue: the summary ties out."""
    days: dict[tuple[date, str], DaySummary] = {}
    for o in orders:
        day = days.setdefault(
            (o.order_date, o.currency), DaySummary(by_status={s: (0, ZERO) for s in STATUSES})
        )
        assert day.by_status is not None
        day.orders += 1
        day.revenue += o.total_price
        day.refunds += o.refunded
        day.received += o.received
        day.despatched_value += o.despatched_value
        count, value = day.by_status[o.status]
        day.by_status[o.status] = (count + 1, value + o.total_price)
    return days


def ties_out(day: DaySummary) -> bool:
    """The statuses' orders and values add up to the day's orders and revenue, to the penny."""
    assert day.by_status is not None
    count = sum(c for c, _ in day.by_status.values())
    value = sum((v for _, v in day.by_status.values()), ZERO)
    return count == day.orders and value == day.revenue
