"""Mutations that move money or goods back: orderCapture, refundCreate, returnCreate, returnProcess,
returnClose. The rules are in `payments.py`, `refunds.py` and `returns.py`; this module reads
inputs and shapes payloads.

Assumptions (stricter where Shopify does not document the behaviour):
- `refundCreate` and `returnProcess` refuse to run without `@idempotent(key:)` (mandatory for refund
  mutations since 2026-04): a top-level BAD_REQUEST. A replayed key with the same input returns the
  first answer; with other input a user error. `orderCapture`, `returnCreate` and `returnClose`
  take no key.
- Amounts in `refundCreate.transactions` and `orderCapture.amount` are in the order's presentment
  currency; the sandbox converts them to the shop's at the order's rate.
- `returnProcess` dispositions are refused (user error NOT_FOUND: the sandbox serves no reverse
  fulfilment orders); its refund (`financialTransfer.issueRefund`) refunds the processed units
  with restock type RETURN and takes the money from the order transactions given.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from graphql import GraphQLError

from . import payments, refunds, returns
from .finance_views import RefundView, ReturnView, TransactionView
from .ids import gid, parse_gid
from .money import Pair, cents
from .mutations import MutationResolvers
from .payments import PaymentError
from .refunds import MoneyBack, RefundLineRequest
from .store import Store
from .views import OrderView


def _user_error(exc: PaymentError, base: list[str] | None = None) -> dict[str, Any]:
    return {"field": [*(base or []), *exc.field] or None, "message": str(exc), "code": exc.code or "INVALID"}


def _decimal(value: Any, path: list[str]) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise PaymentError(f"{value!r} is not an amount.", path) from exc


def refund_requests(store: Store, order: Any, items: list[dict[str, Any]]) -> list[RefundLineRequest]:
    requests = []
    for index, item in enumerate(items):
        number = parse_gid(item["lineItemId"], "LineItem")
        line = next((li for li in order.line_items if li.id == number), None)
        if line is None:
            raise PaymentError(
                "Line item does not exist on this order.", ["refundLineItems", str(index), "lineItemId"]
            )
        location = parse_gid(item["locationId"], "Location") if item.get("locationId") else None
        restock = item.get("restockType") or "NO_RESTOCK"
        requests.append(RefundLineRequest(line, int(item["quantity"]), restock, location))
    return requests


def shipping_refund(order: Any, shipping: dict[str, Any] | None) -> Pair | None:
    """`ShippingRefundInput`: the whole shipping left (`fullRefund`) or an amount (presentment)."""
    if not shipping:
        return None
    from .money import totals

    if shipping.get("fullRefund"):
        return totals(order).current_shipping
    if shipping.get("amount") is not None:
        amount = _decimal(shipping["amount"], ["shipping", "amount"])
        return Pair(cents(amount / order.rate), amount)
    return None


class FinanceMutations(MutationResolvers):
    store: Store

    def _order(self, ref: str) -> Any:
        return self.store.orders.get(parse_gid(ref, "Order") or -1)

    # ----- orderCapture -------------------------------------------------------------------
    def orderCapture(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            order = self._order(input["id"])
            if order is None:
                return {
                    "transaction": None,
                    "userErrors": [{"field": ["input", "id"], "message": "Order does not exist."}],
                }
            try:
                amount = _decimal(input["amount"], ["input", "amount"])
                parent = parse_gid(input["parentTransactionId"], "OrderTransaction") or -1
                t = payments.capture(self.store, order, parent, amount, input.get("currency"),
                                     bool(input.get("finalCapture")))  # fmt: skip
            except PaymentError as exc:
                return {"transaction": None, "userErrors": [_user_error(exc)]}
            self._changed(order)
            return {"transaction": TransactionView(self.store, order, t), "userErrors": []}

    # ----- refundCreate -------------------------------------------------------------------
    def refundCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        empty = {"refund": None, "order": None}
        return self._idempotent(info, "refundCreate", input, lambda: self._refund(input), empty)

    def _refund(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            order = self._order(data["orderId"])
            if order is None:
                return {"refund": None, "order": None,
                        "userErrors": [{"field": ["input", "orderId"], "message": "Order does not exist."}]}  # fmt: skip
            try:
                requests = refund_requests(self.store, order, data.get("refundLineItems") or [])
                backs = []
                for index, t in enumerate(data.get("transactions") or []):
                    path = ["transactions", str(index)]
                    if t["kind"] != "REFUND" or t.get("orderId") != gid("Order", order.id):
                        raise PaymentError("Only REFUND transactions of this order can be given.", path)
                    parent = parse_gid(t.get("parentId") or "", "OrderTransaction")
                    if parent is None:
                        raise PaymentError(
                            "A refund transaction needs its parent payment.", [*path, "parentId"]
                        )
                    backs.append(MoneyBack(parent, _decimal(t["amount"], [*path, "amount"])))
                record = refunds.refund(self.store, order, requests, shipping_refund(order, data.get("shipping")),
                                         backs, data.get("note"))  # fmt: skip
            except PaymentError as exc:
                return {"refund": None, "order": None, "userErrors": [_user_error(exc, ["input"])]}
            self._changed(order, refund=record.id)
            return {"refund": RefundView(self.store, order, record), "order": OrderView(self.store, order),
                    "userErrors": []}  # fmt: skip

    # ----- returns ------------------------------------------------------------------------
    def returnCreate(self, info: Any, returnInput: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            order = self._order(returnInput["orderId"])
            if order is None:
                return {"return": None, "userErrors": [
                    {"field": ["returnInput", "orderId"], "message": "Order does not exist.", "code": "NOT_FOUND"}]}  # fmt: skip
            try:
                record = returns.create_return(self.store, order, returnInput["returnLineItems"])
            except PaymentError as exc:
                return {"return": None, "userErrors": [_user_error(exc, ["returnInput"])]}
            self._changed(order)
            return {"return": ReturnView(self.store, record), "userErrors": []}

    def returnProcess(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        return self._idempotent(info, "returnProcess", input, lambda: self._process(input), {"return": None})

    def _process(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            record = self.store.returns.get(parse_gid(data["returnId"], "Return") or -1)
            if record is None:
                return {"return": None, "userErrors": [
                    {"field": ["input", "returnId"], "message": "Return does not exist.", "code": "NOT_FOUND"}]}  # fmt: skip
            order = self.store.orders[record.order_id]
            try:
                backs = []
                issue = (data.get("financialTransfer") or {}).get("issueRefund")
                for index, t in enumerate((issue or {}).get("orderTransactions") or []):
                    path = ["financialTransfer", "issueRefund", "orderTransactions", str(index)]
                    parent = parse_gid(t["parentId"], "OrderTransaction")
                    if parent is None:
                        raise PaymentError("Parent transaction could not be found.", [*path, "parentId"])
                    backs.append(
                        MoneyBack(
                            parent, _decimal(t["transactionAmount"]["amount"], [*path, "transactionAmount"])
                        )
                    )
                refund = returns.process_return(self.store, order, record, data.get("returnLineItems") or [],
                                                 backs if issue is not None else None, data.get("note"))  # fmt: skip
            except PaymentError as exc:
                return {"return": None, "userErrors": [_user_error(exc, ["input"])]}
            self._changed(order, refund=refund.id if refund else None)
            return {"return": ReturnView(self.store, record), "userErrors": []}

    def returnClose(self, info: Any, id: str) -> dict[str, Any]:
        with self.store.lock:
            record = self.store.returns.get(parse_gid(id, "Return") or -1)
            if record is None:
                return {
                    "return": None,
                    "userErrors": [
                        {"field": ["id"], "message": "Return does not exist.", "code": "NOT_FOUND"}
                    ],
                }
            try:
                returns.close_return(self.store, record)
            except PaymentError as exc:
                return {"return": None, "userErrors": [_user_error(exc)]}
            self._changed(self.store.orders[record.order_id])
            return {"return": ReturnView(self.store, record), "userErrors": []}

    def _changed(self, order: Any, refund: int | None = None) -> None:
        self.store.touch(order)
        if refund is not None:
            self.store.emit("REFUNDS_CREATE", {"order": order.id, "refund": refund})
        self.store.emit("ORDERS_UPDATED", {"order": order.id})


def graphql_error(exc: PaymentError) -> GraphQLError:
    """A refusal where Shopify's schema has no userErrors to carry it (a query field)."""
    return GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"})
