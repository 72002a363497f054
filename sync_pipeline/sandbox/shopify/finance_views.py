"""GraphQL views of an order's money: money bags, transactions, refunds, returns, suggested refunds.

`OrderMoney` is mixed into `OrderView`; its fields are methods, so an order's totals are only
computed when a query asks for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import money, refunds, returns
from .ids import gid
from .model import iso
from .money import Pair
from .paging import connection
from .payments import PaymentError

if TYPE_CHECKING:
    from .model import Order
    from .payments import Transaction
    from .refunds import Refund, RefundLine, Suggestion
    from .returns import Return, ReturnLine
    from .store import Store


def bag(order: Order, value: Pair) -> dict[str, Any]:
    """A MoneyBag: the shop's currency and the customer's."""
    return {
        "shopMoney": {"amount": str(money.cents(value.shop)), "currencyCode": order.currency},
        "presentmentMoney": {
            "amount": str(money.cents(value.presentment)),
            "currencyCode": order.presentment_currency or order.currency,
        },
    }


def _paging(args: dict[str, Any]) -> dict[str, Any]:
    keys = ("first", "after", "last", "before", "reverse")
    return {k: args[k] for k in keys if k in args}


def _by_id(record: Any) -> list[Any]:
    return [record.id]


class TransactionView:
    typename = "OrderTransaction"

    def __init__(self, store: Store, order: Order, t: Transaction) -> None:
        self._store, self._order, self._t = store, order, t
        self.id = gid("OrderTransaction", t.id)
        self.kind = t.kind
        self.status = t.status
        self.gateway = t.gateway
        self.amountSet = bag(order, t.amount)
        self.processedAt = iso(t.processed_at)
        self.createdAt = iso(t.processed_at)
        self.authorizationExpiresAt = iso(t.authorization_expires_at)
        self.manuallyCapturable = t.kind == "AUTHORIZATION" and not t.closed and t.status == "SUCCESS"
        self.multiCapturable = self.manuallyCapturable
        self.test = False

    def parentTransaction(self, info: Any) -> TransactionView | None:
        parent = next((x for x in self._order.transactions if x.id == self._t.parent_id), None)
        return TransactionView(self._store, self._order, parent) if parent else None


class RefundLineView:
    typename = "RefundLineItem"

    def __init__(self, store: Store, order: Order, rl: RefundLine) -> None:
        self._store, self._order, self._rl = store, order, rl
        self.id = gid("RefundLineItem", rl.id)
        self.quantity = rl.quantity
        self.restockType = rl.restock_type
        self.restocked = rl.restocked
        self.priceSet = bag(order, rl.unit_price)
        self.subtotalSet = bag(order, rl.subtotal)
        self.totalTaxSet = bag(order, rl.tax)

    def lineItem(self, info: Any) -> Any:
        from .views import LineItemView

        line = next(li for li in self._order.line_items if li.id == self._rl.line_item_id)
        return LineItemView(self._store, self._order, line)

    def location(self, info: Any) -> Any:
        from .views import LocationView

        loc = self._store.locations.get(self._rl.location_id or -1)
        return LocationView(self._store, loc) if loc else None


class RefundView:
    typename = "Refund"

    def __init__(self, store: Store, order: Order, r: Refund) -> None:
        self._store, self._order, self._r = store, order, r
        self.id = gid("Refund", r.id)
        self.legacyResourceId = str(r.id)
        self.note = r.note
        self.createdAt = self.processedAt = self.updatedAt = iso(r.created_at)
        given = [t.amount for t in order.transactions if t.id in r.transaction_ids and t.status == "SUCCESS"]
        self.totalRefundedSet = bag(order, money.total(given))

    def refundLineItems(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection(self._r.lines, _by_id, lambda rl: RefundLineView(self._store, self._order, rl),
                          **_paging(args))  # fmt: skip

    def refundShippingLines(self, info: Any, **args: Any) -> dict[str, Any]:
        from .views import OrderView

        rows = [self._r] if self._r.shipping.shop and self._order.shipping_line else []

        def wrap(r: Refund) -> dict[str, Any]:
            return {
                "typename": "RefundShippingLine",
                "id": gid("RefundShippingLine", r.id),
                "shippingLine": OrderView(self._store, self._order).shippingLine(info),
                "subtotalAmountSet": bag(self._order, r.shipping),
                "taxAmountSet": bag(self._order, r.shipping_tax),
            }

        return connection(rows, _by_id, wrap, **_paging(args))

    def transactions(self, info: Any, **args: Any) -> dict[str, Any]:
        mine = [t for t in self._order.transactions if t.id in self._r.transaction_ids]
        return connection(
            mine, _by_id, lambda t: TransactionView(self._store, self._order, t), **_paging(args)
        )

    def order(self, info: Any) -> Any:
        from .views import OrderView

        return OrderView(self._store, self._order)

    def _return(self, info: Any) -> ReturnView | None:
        found = self._store.returns.get(self._r.return_id or -1)
        return ReturnView(self._store, found) if found else None


setattr(RefundView, "return", RefundView._return)  # `return` is a Python keyword


class ReturnLineView:
    typename = "ReturnLineItem"

    def __init__(self, store: Store, order: Order, rl: ReturnLine) -> None:
        self._store, self._order, self._rl = store, order, rl
        self.id = gid("ReturnLineItem", rl.id)
        self.quantity = rl.quantity
        self.processedQuantity = rl.processed_quantity
        self.unprocessedQuantity = self.processableQuantity = rl.quantity - rl.processed_quantity
        self.refundedQuantity = rl.refunded_quantity
        self.refundableQuantity = rl.quantity - rl.refunded_quantity
        self.returnReasonNote = rl.note
        self.customerNote = None

    def fulfillmentLineItem(self, info: Any) -> dict[str, Any]:
        from .views import LineItemView

        line = next(li for li in self._order.line_items if li.id == self._rl.line_item_id)
        row = next(
            (r for f in self._order.fulfillment_ids for r in self._store.fulfillments[f].lines
             if r[0] == self._rl.fulfillment_line_item_id), None,
        )  # fmt: skip
        return {
            "id": gid("FulfillmentLineItem", self._rl.fulfillment_line_item_id),
            "quantity": row[2] if row else self._rl.quantity,
            "lineItem": LineItemView(self._store, self._order, line),
        }


class ReturnView:
    typename = "Return"

    def __init__(self, store: Store, r: Return) -> None:
        self._store, self._r = store, r
        self._order = store.orders[r.order_id]
        self.id = gid("Return", r.id)
        self.name = r.name
        self.status = r.status
        self.createdAt = iso(r.created_at)
        self.closedAt = iso(r.closed_at)
        self.totalQuantity = sum(rl.quantity for rl in r.lines)

    def order(self, info: Any) -> Any:
        from .views import OrderView

        return OrderView(self._store, self._order)

    def returnLineItems(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection(self._r.lines, _by_id, lambda rl: ReturnLineView(self._store, self._order, rl),
                          **_paging(args))  # fmt: skip

    def refunds(self, info: Any, **args: Any) -> dict[str, Any]:
        mine = [r for r in self._order.refunds if r.id in self._r.refund_ids]
        return connection(mine, _by_id, lambda r: RefundView(self._store, self._order, r), **_paging(args))


def suggested_refund_view(store: Store, order: Order, s: Suggestion) -> dict[str, Any]:
    """SuggestedRefund: the same amounts `refundCreate` would record, with the payments to take
    them from (latest first)."""
    left = s.amount
    suggested = []
    for parent, available in reversed(s.parents):
        if left.shop <= 0:
            break
        take = left if left.shop <= available.shop else available
        suggested.append({
            "typename": "SuggestedOrderTransaction",
            "amountSet": bag(order, take),
            "maximumRefundableSet": bag(order, available),
            "gateway": parent.gateway,
            "kind": "SUGGESTED_REFUND",
            "parentTransaction": TransactionView(store, order, parent),
        })  # fmt: skip
        left = left - take
    refundable = money.total([a for _, a in s.parents])
    return {
        "typename": "SuggestedRefund",
        "amountSet": bag(order, s.amount),
        "subtotalSet": bag(order, s.subtotal),
        "discountedSubtotalSet": bag(order, s.subtotal),
        "totalTaxSet": bag(order, s.tax),
        "maximumRefundableSet": bag(order, refundable),
        "shipping": {
            "amountSet": bag(order, s.shipping),
            "taxSet": bag(order, s.shipping_tax),
            "maximumRefundableSet": bag(order, money.totals(order).current_shipping),
        },
        "refundLineItems": [RefundLineView(store, order, rl) for rl in s.lines],
        "suggestedTransactions": suggested,
    }


class OrderMoney:
    """The money fields of `OrderView` (which sets `_store` and `_o`)."""

    _store: Store
    _o: Order

    def _totals(self) -> money.Totals:
        return money.totals(self._o)

    def subtotalPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().subtotal)

    def currentSubtotalPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().current_subtotal)

    def totalDiscountsSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().discounts)

    def currentTotalDiscountsSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().current_discounts)

    def totalShippingPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().shipping)

    def currentShippingPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().current_shipping)

    def totalTaxSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().tax)

    def currentTotalTaxSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().current_tax)

    def totalPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().total)

    def currentTotalPriceSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().current_total)

    def totalReceivedSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().received)

    def totalRefundedSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().refunded)

    def totalRefundedShippingSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().refunded_shipping)

    def netPaymentSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().net_payment)

    def refundDiscrepancySet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().refund_discrepancy)

    def totalOutstandingSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().outstanding)

    def totalCapturableSet(self, info: Any) -> dict[str, Any]:
        return bag(self._o, self._totals().capturable)

    def capturable(self, info: Any) -> bool:
        return money.capturable(self._o).shop > 0

    def presentmentCurrencyCode(self, info: Any) -> str:
        return self._o.presentment_currency or self._o.currency

    def taxesIncluded(self, info: Any) -> bool:
        return self._o.taxes_included

    def transactions(
        self, info: Any, first: int | None = None, capturable: bool | None = None, **_: Any
    ) -> list[Any]:
        found = [TransactionView(self._store, self._o, t) for t in self._o.transactions]
        if capturable:
            found = [t for t in found if t.manuallyCapturable]
        return found[:first] if first is not None else found

    def refunds(self, info: Any, first: int | None = None) -> list[RefundView]:
        found = [RefundView(self._store, self._o, r) for r in self._o.refunds]
        return found[:first] if first is not None else found

    def returns(self, info: Any, **args: Any) -> dict[str, Any]:
        mine = [self._store.returns[i] for i in self._o.return_ids]
        return connection(mine, _by_id, lambda r: ReturnView(self._store, r), **_paging(args))

    def returnStatus(self, info: Any) -> str:
        return returns.return_status(self._o, [self._store.returns[i] for i in self._o.return_ids])

    def suggestedRefund(
        self,
        info: Any,
        refundLineItems: list[dict[str, Any]] | None = None,
        refundShipping: bool | None = None,
        shippingAmount: str | None = None,
        **_: Any,
    ) -> dict[str, Any] | None:
        from .finance_mutations import graphql_error, refund_requests, shipping_refund

        try:
            requests = refund_requests(self._store, self._o, refundLineItems or [])
            shipping = shipping_refund(
                self._o, {"fullRefund": bool(refundShipping), "amount": shippingAmount}
            )
            suggestion = refunds.suggest(self._store, self._o, requests, shipping)
        except PaymentError as exc:
            raise graphql_error(exc) from exc
        return suggested_refund_view(self._store, self._o, suggestion)
