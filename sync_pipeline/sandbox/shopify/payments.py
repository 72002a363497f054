"""Payments: the records behind an order's money (sales, authorisations, captures, voids).

Called by the store (placing, paying, cancelling an order), by `orderCapture` and by the control
API; refunds are in `refunds.py`, returns in `returns.py`. The caller holds the store's lock.

Assumptions (stricter where Shopify does not document the behaviour):
- A paid order has one SALE (gateway `shopify_payments`, or `manual` when marked paid later); an
  authorised one an AUTHORIZATION that expires after 7 days, captured by one or more CAPTUREs up
  to its amount (a final capture closes it). An edit that raises a paid order's total is paid at
  once (a second sale, as when the customer pays the invoice), so a paid order stays paid.
- Cancelling voids an open authorisation (VOID); the refund it makes is in `refunds.py`.
- `displayFinancialStatus` follows the records: refunds → PARTIALLY_REFUNDED / REFUNDED; received
  → PAID / PARTIALLY_PAID; capturable → AUTHORIZED; voided or cancelled → VOIDED; else PENDING.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from . import money
from .money import Pair

if TYPE_CHECKING:
    from .model import Order
    from .store import Store

AUTHORIZATION_DAYS = 7


class PaymentError(ValueError):
    """A money change Shopify would refuse; the text is what the user error says."""

    def __init__(self, message: str, field: list[str] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field or []
        self.code = code


@dataclass
class Transaction:
    id: int
    kind: str  # AUTHORIZATION, CAPTURE, SALE, REFUND, VOID
    status: str  # SUCCESS, FAILURE, PENDING…
    amount: Pair
    gateway: str
    processed_at: datetime
    parent_id: int | None = None
    authorization_expires_at: datetime | None = None
    closed: bool = False  # an authorisation voided or finally captured


def record_transaction(
    store: Store, order: Order, kind: str, amount: Pair, gateway: str, **extra: object
) -> Transaction:
    t = Transaction(store.ids.next(), kind, "SUCCESS", amount, gateway, store.now(), **extra)  # type: ignore[arg-type]
    order.transactions.append(t)
    return t


def open_payment(store: Store, order: Order, status: str) -> None:
    """The payment of a newly placed order: a sale (PAID), an authorisation (AUTHORIZED) or none."""
    due = money.totals(order).total
    if due.shop <= 0 and due.presentment <= 0:
        pass  # a free order (0.00 lines, a 100 % discount): Shopify takes no payment and says PAID
    elif status == "PAID":
        record_transaction(store, order, "SALE", due, "shopify_payments")
    elif status == "AUTHORIZED":
        expires = store.now() + timedelta(days=AUTHORIZATION_DAYS)
        record_transaction(
            store, order, "AUTHORIZATION", due, "shopify_payments", authorization_expires_at=expires
        )
    settle(order)


def pay_balance(store: Store, order: Order, gateway: str = "manual") -> Transaction | None:
    """Collect what is outstanding as a sale (marking an order paid; an edit that raised a paid order)."""
    due = money.totals(order).outstanding
    if due.shop <= 0:
        return None
    t = record_transaction(store, order, "SALE", due, gateway)
    settle(order)
    return t


def settle(order: Order) -> None:
    order.financial_status = money.financial_status(order)


def capture(
    store: Store, order: Order, parent_ref: int, amount: Decimal, currency: str | None, final: bool
) -> Transaction:
    """`orderCapture`: take `amount` (presentment currency) of an open authorisation."""
    if order.cancelled_at is not None:
        raise PaymentError("Order is cancelled.", ["input", "id"])
    auth = next((t for t in order.transactions if t.id == parent_ref), None)
    if auth is None or auth.kind != "AUTHORIZATION":
        raise PaymentError("Parent transaction could not be found.", ["input", "parentTransactionId"])
    if currency is not None and currency != order.presentment_currency:
        raise PaymentError(
            f"Currency must be the order's presentment currency ({order.presentment_currency}).",
            ["input", "currency"],
        )
    if currency is None and order.presentment_currency != order.currency:
        raise PaymentError(
            "Currency is required when the presentment currency differs.", ["input", "currency"]
        )
    if auth.closed or auth.status != "SUCCESS":
        raise PaymentError("The authorization is no longer capturable.", ["input", "parentTransactionId"])
    if auth.authorization_expires_at is not None and store.now() >= auth.authorization_expires_at:
        raise PaymentError("The authorization has expired.", ["input", "parentTransactionId"])
    captured = money.total(
        [t.amount for t in order.transactions if t.parent_id == auth.id and t.kind == "CAPTURE"]
    )
    left = auth.amount - captured
    if amount <= 0 or amount > left.presentment:
        raise PaymentError(f"Amount must be more than 0 and at most {left.presentment}.", ["input", "amount"])
    # The last capture takes exactly what is left in both currencies; a part one is converted.
    shop = left.shop if amount == left.presentment else money.cents(amount / order.rate)
    t = record_transaction(store, order, "CAPTURE", Pair(shop, amount), auth.gateway, parent_id=auth.id)
    if final or amount == left.presentment:
        auth.closed = True
    settle(order)
    return t


def void_authorisations(store: Store, order: Order) -> None:
    for auth in [t for t in order.transactions if t.kind == "AUTHORIZATION" and not t.closed]:
        record_transaction(store, order, "VOID", money.capturable(order), auth.gateway, parent_id=auth.id)
        auth.closed = True
