"""Finance operations of `ShopifyClient`: read orders' money, capture, refund, returns.

Reads are paged from the documented cost model like the order reads (`_fit`). `refundCreate` and
`returnProcess` carry an `@idempotent` key (mandatory since 2026-04): a caller that loses the answer
sends the same request with the same key and gets Shopify's first answer, never a second refund.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from . import finance_documents as docs
from .executes import Executes
from .finance_models import FulfilledLine, OrderMoney, OrderTransaction, Refund, Return, SuggestedRefund

# Requested cost of one order's money under Shopify's rules: the order 1, customer 1, 13 money bags
# of 3, the line item connection 2 + 4 per line, transactions 1 + 5 each, refunds 1 + per refund
# (3 + 2 bags + its line connection 2 + 7 per line), returns connection 2 + 1 each.
MONEY_NODE_BASE = 2 + 13 * 3 + 2 + 1 + 1 + 2
LINE_NODE = 4
TRANSACTION_NODE = 5
REFUND_NODE_BASE = 3 + 6 + 2
REFUND_LINE_NODE = 7
MAX_PAGE = 250


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money_search(field: str, since: datetime, until: datetime | None = None) -> str:
    """The search for orders whose `created_at` or `updated_at` (`field`) is in [since, until)."""
    if field not in ("created_at", "updated_at"):
        raise ValueError(f"search orders by created_at or updated_at, not {field!r}")
    terms = [f"{field}:>='{_iso(since)}'"] + ([f"{field}:<'{_iso(until)}'"] if until else [])
    return " AND ".join(terms)


class MoneyShape:
    """How much of each order one page reads (the rest of a big order is read on its own)."""

    def __init__(self, lines: int = 10, transactions: int = 5, refunds: int = 3, returns: int = 3) -> None:
        self.lines, self.transactions, self.refunds, self.returns = lines, transactions, refunds, returns

    def variables(self) -> dict[str, int]:
        return {"lineItems": self.lines, "transactions": self.transactions, "refunds": self.refunds,
                "returns": self.returns}  # fmt: skip

    def node_cost(self) -> int:
        refund = REFUND_NODE_BASE + REFUND_LINE_NODE * self.lines
        return (MONEY_NODE_BASE + LINE_NODE * self.lines + 1 + TRANSACTION_NODE * self.transactions
                + 1 + refund * self.refunds + self.returns)  # fmt: skip

    def complete(self, order: OrderMoney) -> bool:
        return not (
            order.truncated
            or len(order.transactions) >= self.transactions
            or len(order.refunds) >= self.refunds
            or len(order.returns) >= self.returns
        )

    def bigger(self) -> MoneyShape:
        return MoneyShape(min(MAX_PAGE, self.lines * 4), min(MAX_PAGE, self.transactions * 4),
                          min(50, self.refunds * 4), min(50, self.returns * 4))  # fmt: skip


class FinanceApi:
    def iter_orders_money(
        self: Executes, query: str, shape: MoneyShape | None = None
    ) -> Iterator[OrderMoney]:
        """Every order matching a search (`created_at:>=…`, `updated_at:>=…`), with its money."""
        shape = shape or MoneyShape()
        per_node = shape.node_cost()
        first = max(1, min(MAX_PAGE, (self.max_query_cost - 2) // per_node))
        after: str | None = None
        while True:
            variables = {"first": first, "after": after, "query": query, **shape.variables()}
            page = self.execute("OrdersMoney", docs.ORDERS_MONEY, variables, cost_hint=2 + first * per_node)[
                "orders"
            ]
            for node in page["nodes"]:
                yield FinanceApi._whole(self, OrderMoney.model_validate(node), shape)
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def iter_orders_money_between(
        self: Executes, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[OrderMoney]:
        """Orders whose `created_at` or `updated_at` (`field`) is in [since, until)."""
        return FinanceApi.iter_orders_money(self, money_search(field, since, until))  # type: ignore[arg-type]

    def get_orders_money(
        self: Executes, order_ids: Sequence[str], shape: MoneyShape | None = None
    ) -> list[OrderMoney]:
        """Orders by id (unknown ids left out), with their money."""
        shape = shape or MoneyShape()
        per_node = shape.node_cost() + 1
        chunk = max(1, min(MAX_PAGE, self.max_query_cost // per_node))
        found = []
        for start in range(0, len(order_ids), chunk):
            ids = list(order_ids[start : start + chunk])
            data = self.execute("OrdersMoneyByIds", docs.ORDERS_MONEY_BY_IDS, {"ids": ids, **shape.variables()},
                                cost_hint=len(ids) * per_node)  # fmt: skip
            found += [FinanceApi._whole(self, OrderMoney.model_validate(n), shape) for n in data["nodes"]
                      if n and n.get("id")]  # fmt: skip
        return found

    def _whole(self: Executes, order: OrderMoney, shape: MoneyShape) -> OrderMoney:
        """Read an order again, with bigger pages, until nothing of it was cut off."""
        while not shape.complete(order) and shape.lines < MAX_PAGE:
            shape = shape.bigger()
            again = FinanceApi.get_orders_money(self, [order.id], shape)
            if not again:
                return order
            order = again[0]
        return order

    # ----- moving money -------------------------------------------------------------------
    def capture_payment(
        self: Executes,
        order_id: str,
        authorization_id: str,
        amount: Decimal,
        currency: str,
        final: bool = True,
    ) -> OrderTransaction:
        """Capture `amount` (in the order's presentment currency) of an authorisation. Not idempotent
        at Shopify: after a lost answer, read the order's transactions before capturing again."""
        variables = {"input": {"id": order_id, "parentTransactionId": authorization_id, "amount": str(amount),
                               "currency": currency, "finalCapture": final}}  # fmt: skip
        payload = self.execute("OrderCapture", docs.ORDER_CAPTURE, variables, safe_to_retry=False)[
            "orderCapture"
        ]
        self._user_errors("OrderCapture", payload)
        return OrderTransaction.model_validate(payload["transaction"])

    def suggest_refund(
        self: Executes, order_id: str, lines: Mapping[str, tuple[int, str]], shipping: bool = False
    ) -> SuggestedRefund:
        """Shopify's own amounts for refunding `{line item id: (quantity, restock type)}`."""
        items = [{"lineItemId": k, "quantity": q, "restockType": r} for k, (q, r) in lines.items()]
        data = self.execute("SuggestedRefund", docs.SUGGESTED_REFUND,
                            {"id": order_id, "refundLineItems": items, "refundShipping": shipping})  # fmt: skip
        return SuggestedRefund.model_validate(data["order"]["suggestedRefund"])

    def create_refund(
        self: Executes,
        order_id: str,
        lines: Mapping[str, tuple[int, str]],
        transactions: Sequence[tuple[str, Decimal, str]] = (),
        *,
        shipping: bool = False,
        note: str | None = None,
        idempotency_key: str | None = None,
    ) -> Refund:
        """Refund line units (`{line item id: (quantity, restock type)}`) and move money back through
        `transactions` (`(parent payment id, amount, gateway)`; none: nothing is paid back).

        Safe to retry with the same key: Shopify answers a replay with its first answer."""
        refund_input: dict[str, Any] = {
            "orderId": order_id,
            "refundLineItems": [{"lineItemId": k, "quantity": q, "restockType": r} for k, (q, r) in lines.items()],
            "transactions": [{"orderId": order_id, "parentId": p, "amount": str(a), "gateway": g, "kind": "REFUND"}
                             for p, a, g in transactions],
            "note": note,
        }  # fmt: skip
        if shipping:
            refund_input["shipping"] = {"fullRefund": True}
        variables = {"input": refund_input, "key": idempotency_key or str(uuid.uuid4())}
        payload = self.execute("RefundCreate", docs.REFUND_CREATE, variables)["refundCreate"]
        self._user_errors("RefundCreate", payload)
        return Refund.model_validate(payload["refund"])

    # ----- returns ------------------------------------------------------------------------
    def fulfilled_lines(self: Executes, order_id: str) -> list[FulfilledLine]:
        data = self.execute("Returnable", docs.RETURNABLE, {"id": order_id, "first": 20, "lineItems": 50})
        order = data.get("order") or {"fulfillments": []}
        return [FulfilledLine.model_validate(n) for f in order["fulfillments"]
                for n in f["fulfillmentLineItems"]["nodes"]]  # fmt: skip

    def create_return(
        self: Executes, order_id: str, lines: Mapping[str, int], reason: str = "UNWANTED"
    ) -> Return:
        """Open a return of `{fulfilment line item id: quantity}`."""
        items = [
            {"fulfillmentLineItemId": k, "quantity": q, "returnReason": reason} for k, q in lines.items()
        ]
        variables = {"returnInput": {"orderId": order_id, "returnLineItems": items}, "lineItems": 50}
        payload = self.execute("ReturnCreate", docs.RETURN_CREATE, variables, safe_to_retry=False)[
            "returnCreate"
        ]
        self._user_errors("ReturnCreate", payload)
        return Return.model_validate(payload["return"])

    def process_return(
        self: Executes,
        return_id: str,
        lines: Mapping[str, int],
        refund_from: Sequence[tuple[str, Decimal, str]] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Return:
        """Confirm `{return line item id: quantity}` received; with `refund_from` (`(parent payment id,
        amount, currency)`), refund them from those payments. Safe to retry with the same key."""
        process: dict[str, Any] = {
            "returnId": return_id,
            "returnLineItems": [{"id": k, "quantity": q} for k, q in lines.items()],
        }
        if refund_from is not None:
            process["financialTransfer"] = {"issueRefund": {"orderTransactions": [
                {"parentId": p, "transactionAmount": {"amount": str(a), "currencyCode": c}} for p, a, c in refund_from
            ]}}  # fmt: skip
        variables = {"input": process, "key": idempotency_key or str(uuid.uuid4()), "lineItems": 50}
        payload = self.execute("ReturnProcess", docs.RETURN_PROCESS, variables)["returnProcess"]
        self._user_errors("ReturnProcess", payload)
        return Return.model_validate(payload["return"])

    def close_return(self: Executes, return_id: str) -> Return:
        payload = self.execute("ReturnClose", docs.RETURN_CLOSE, {"id": return_id, "lineItems": 50})[
            "returnClose"
        ]
        self._user_errors("ReturnClose", payload)
        return Return.model_validate(payload["return"])
