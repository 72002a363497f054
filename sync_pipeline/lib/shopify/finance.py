"""Finance operations of `ShopifyClient`: read orders' money, capture, refund, returns.

Reads are paged from the documented cost model like the order reads (`_fit`). An order bigger than
one page's shape is read again in parts (lines, payments, refunds, returns, each its own query under
the 1,000-point cap, connections paged by cursor); one that still cannot be read whole raises
`ShopifyOrderTooLarge` naming it inside, and comes back with `unreadable` saying why, never a silent
undercount. `refundCreate` and
`returnProcess` carry an `@idempotent` key (mandatory since 2026-04): a caller that loses the answer
sends the same request with the same key and gets Shopify's first answer, never a second refund.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from . import finance_documents as docs
from .errors import ShopifyOrderTooLarge
from .executes import Executes
from .executes import fit as _fit
from .finance_models import (
    FinanceLine,
    FulfilledLine,
    OrderMoney,
    OrderTransaction,
    Refund,
    RefundLineItem,
    Return,
    ReturnSummary,
    SuggestedRefund,
)
from .models import ShopifyModel

M = TypeVar("M", bound=ShopifyModel)

# Requested cost of one order's money under Shopify's rules (test_cost checks it against the
# sandbox's calculator): the order with its own objects 48 (13 money bags of 3 among them), 4 per line,
# 5 per transaction (a plain list, charged by its `first`), per refund 1 + totalRefundedSet 3 +
# return 1 + its line connection 2, + 8 per refund line (1 + lineItem 1 + 2 bags), 1 per return.
MONEY_NODE_BASE = 48
LINE_NODE = 4
TRANSACTION_NODE = 5
REFUND_NODE_BASE = 7
REFUND_LINE_NODE = 8
MAX_PAGE = 250
# The parts of a big order are read on their own (`_read_in_parts`). Refunds are a plain list (no
# cursor), so they are read with few lines each to fit many refunds under the cap; the rest of a
# refund's lines is paged by the refund's id.
PART_REFUND_LINES = 2
PART_RETURN = 1
# Returnable lines: a fulfilment (a plain list) is 1 + its line connection 2 + 2 per line.
FULFILLED_LINE_NODE = 2
RETURNABLE_LINES = 20


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
        return (MONEY_NODE_BASE + LINE_NODE * self.lines + TRANSACTION_NODE * self.transactions
                + refund * self.refunds + self.returns)  # fmt: skip

    def complete(self, order: OrderMoney) -> bool:
        return not (
            order.truncated
            or len(order.transactions) >= self.transactions
            or len(order.refunds) >= self.refunds
            or len(order.returns) >= self.returns
        )

    def cut_refunds(self, order: OrderMoney) -> bool:
        """Refunds may be cut off, or (order lines cut) hold more lines than were read."""
        return order.truncated or len(order.refunds) >= self.refunds


class LightMoneyShape(MoneyShape):
    """The live read's first pass: everything but the refunds, which it only tests for
    (`finance_documents.REFUNDS_PROBE`, 1 point). An order with a refund is read again whole by id,
    so nothing here reads refunds in parts."""

    def variables(self) -> dict[str, int]:
        return {"lineItems": self.lines, "transactions": self.transactions, "returns": self.returns}

    def node_cost(self) -> int:
        return (
            MONEY_NODE_BASE + LINE_NODE * self.lines + TRANSACTION_NODE * self.transactions + 1 + self.returns
        )

    def complete(self, order: OrderMoney) -> bool:
        return not (order.truncated or len(order.transactions) >= self.transactions
                    or len(order.returns) >= self.returns)  # fmt: skip

    def cut_refunds(self, order: OrderMoney) -> bool:
        return False


@dataclass
class MoneyPage:
    """One page of the live money read: its orders, whole, and the newest `updatedAt` the listing
    showed. An order read again by id may be newer than its listing; a cursor saved from it could
    pass orders listed after it but not yet read, so cursors come from `listed_up_to`."""

    orders: list[OrderMoney]
    listed_up_to: datetime | None


class FinanceApi:
    def iter_orders_money(
        self: Executes, query: str, shape: MoneyShape | None = None
    ) -> Iterator[OrderMoney]:
        """Every order matching a search (`created_at:>=…`, `updated_at:>=…`), with its money, in one
        pass of the full shape. The reads use `iter_money_pages`; this is what its rows are proved
        against (`finance/test_money_read_shape.py`, `benchmarks/finance_money_read.py`)."""
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

    def iter_money_pages(self: Executes, query: str) -> Iterator[MoneyPage]:
        """Every order matching a search, with its money, a page at a time: each page reads the
        orders without their refunds (`LightMoneyShape`, 117 requested points an order against 377,
        so 8 orders a page against 2), then reads again whole by id the orders that have one
        (`_with_refunds`, as the bulk backfill does). The same orders and figures as
        `iter_orders_money` in about a third of the requests; the points Shopify keeps (the actual
        cost) are about the same, a refunded order's a little more (it is read twice)."""
        shape = LightMoneyShape()
        per_node = shape.node_cost()
        first = max(1, min(MAX_PAGE, (self.max_query_cost - 2) // per_node))
        after: str | None = None
        while True:
            variables = {"first": first, "after": after, "query": query, **shape.variables()}
            page = self.execute("OrdersMoneyLight", docs.ORDERS_MONEY_LIGHT, variables,
                                cost_hint=2 + first * per_node)["orders"]  # fmt: skip
            listed: list[OrderMoney] = []
            refunded: set[str] = set()
            for node in page["nodes"]:
                order = OrderMoney.model_validate({**node, "refunds": []})
                if node.get("refunds"):
                    refunded.add(order.id)
                    listed.append(order)  # read whole by id below: nothing of it read in parts here
                else:
                    listed.append(FinanceApi._whole(self, order, shape))
            newest = max((o.updated_at for o in listed), default=None)
            yield MoneyPage(list(FinanceApi._with_refunds(self, listed, refunded)), newest)
            if not page["pageInfo"]["hasNextPage"]:
                return
            after = page["pageInfo"]["endCursor"]

    def iter_orders_money_between(
        self: Executes, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[OrderMoney]:
        """Orders whose `created_at` or `updated_at` (`field`) is in [since, until)."""
        for page in FinanceApi.iter_money_pages(self, money_search(field, since, until)):  # type: ignore[arg-type]
            yield from page.orders

    def _with_refunds(
        self: Executes, held: list[OrderMoney], refunded: Collection[str]
    ) -> Iterator[OrderMoney]:
        """`held` in order, each of `refunded` replaced by its whole money read by id (a read without
        refund lines cannot be written). One gone from Shopify since it was listed is left out, as a
        read made now would leave it out."""
        whole = {o.id: o for o in FinanceApi.get_orders_money(self, list(refunded))} if refunded else {}
        for order in held:
            if order.id not in refunded:
                yield order
            elif order.id in whole:
                yield whole[order.id]

    def get_orders_money(
        self: Executes, order_ids: Sequence[str], shape: MoneyShape | None = None
    ) -> list[OrderMoney]:
        """Orders by id (unknown ids left out), with their money."""
        shape = shape or MoneyShape()
        per_node = shape.node_cost()
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
        """The order itself when nothing of it was cut off, else read again in parts; flagged
        `unreadable` when even the parts cannot hold it."""
        if shape.complete(order):
            return order
        try:
            return FinanceApi._read_in_parts(self, order, shape)
        except ShopifyOrderTooLarge as exc:
            return order.model_copy(update={"unreadable": str(exc)})

    def _read_in_parts(self: Executes, order: OrderMoney, shape: MoneyShape) -> OrderMoney:
        update: dict[str, Any] = {"truncated": False}
        if order.truncated:
            update["line_items"] = FinanceApi._paged(self, "OrderMoneyLines", docs.ORDER_MONEY_LINES, order.id,
                                                     LINE_NODE, FinanceLine)  # fmt: skip
        if len(order.transactions) >= shape.transactions:
            update["transactions"] = FinanceApi._transactions(self, order)
        if shape.cut_refunds(order):
            update["refunds"] = FinanceApi._refunds(self, order)
        if len(order.returns) >= shape.returns:
            update["returns"] = FinanceApi._paged(self, "OrderMoneyReturns", docs.ORDER_MONEY_RETURNS, order.id,
                                                  PART_RETURN, ReturnSummary)  # fmt: skip
        return order.model_copy(update=update)

    def _paged(self: Executes, operation: str, document: str, owner_id: str, per_node: int,
               model: type[M]) -> list[M]:  # fmt: skip
        """Every node of a connection under `order(id:)` (or `node(id:)`), a page at a time."""
        first = _fit(per_node, self.max_query_cost, overhead=3)
        found: list[M] = []
        after: str | None = None
        while True:
            data = self.execute(operation, document, {"id": owner_id, "first": first, "after": after},
                                cost_hint=3 + first * per_node)  # fmt: skip
            holder = data.get("order") or data.get("node") or {}
            page = next(iter(holder.values()), None) if holder else None
            if page is None:
                return found
            found += [model.model_validate(n) for n in page["nodes"]]
            if not page["pageInfo"]["hasNextPage"]:
                return found
            after = page["pageInfo"]["endCursor"]

    def _transactions(self: Executes, order: OrderMoney) -> list[OrderTransaction]:
        first = _fit(TRANSACTION_NODE, self.max_query_cost, overhead=1)
        data = self.execute("OrderMoneyTransactions", docs.ORDER_MONEY_TRANSACTIONS, {"id": order.id, "first": first},
                            cost_hint=1 + first * TRANSACTION_NODE)  # fmt: skip
        found = [
            OrderTransaction.model_validate(t) for t in (data.get("order") or {}).get("transactions") or []
        ]
        if len(found) >= first:  # a plain list has no cursor: the rest cannot be asked for
            raise ShopifyOrderTooLarge(order.id, order.name, f"{first} or more transactions")
        return found

    def _refunds(self: Executes, order: OrderMoney) -> list[Refund]:
        per_refund = REFUND_NODE_BASE + REFUND_LINE_NODE * PART_REFUND_LINES
        first = _fit(per_refund, self.max_query_cost, overhead=1)
        data = self.execute("OrderMoneyRefunds", docs.ORDER_MONEY_REFUNDS,
                            {"id": order.id, "refunds": first, "lineItems": PART_REFUND_LINES},
                            cost_hint=1 + first * per_refund)  # fmt: skip
        raw = (data.get("order") or {}).get("refunds") or []
        if len(raw) >= first:  # a plain list has no cursor: the rest cannot be asked for
            raise ShopifyOrderTooLarge(order.id, order.name, f"{first} or more refunds")
        refunds = []
        for r in raw:
            lines = r["refundLineItems"]
            if lines["pageInfo"]["hasNextPage"]:
                nodes = FinanceApi._paged(self, "RefundMoneyLines", docs.REFUND_MONEY_LINES, r["id"],
                                          REFUND_LINE_NODE, RefundLineItem)  # fmt: skip
                refunds.append(Refund.model_validate({**r, "refundLineItems": {"nodes": []}}).model_copy(
                    update={"refund_line_items": nodes}))  # fmt: skip
            else:
                refunds.append(Refund.model_validate(r))
        return refunds

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
        """Every fulfilment line item of the order (what a return is made of)."""
        first = _fit(3 + FULFILLED_LINE_NODE * RETURNABLE_LINES, self.max_query_cost, overhead=1)
        data = self.execute("Returnable", docs.RETURNABLE, {"id": order_id, "first": first,
                                                            "lineItems": RETURNABLE_LINES})  # fmt: skip
        fulfillments = (data.get("order") or {}).get("fulfillments") or []
        if len(fulfillments) >= first:  # a plain list has no cursor: the rest cannot be asked for
            raise ShopifyOrderTooLarge(order_id, None, f"{first} or more fulfilments")
        found: list[FulfilledLine] = []
        for f in fulfillments:
            page = f["fulfillmentLineItems"]
            if page["pageInfo"]["hasNextPage"]:
                found += FinanceApi._paged(self, "FulfillmentLines", docs.FULFILLMENT_LINES, f["id"],
                                           FULFILLED_LINE_NODE, FulfilledLine)  # fmt: skip
            else:
                found += [FulfilledLine.model_validate(n) for n in page["nodes"]]
        return found

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
