"""Finance's money read for a backfill window: one bulk operation, plus a by-id read of the orders
that have refunds; the same `OrderMoney` as the paginated read, order for order.

Shopify's bulk queries refuse a connection inside a list field, and each refund in the money
fragment's list `refunds` holds the connection `refundLineItems`. So the bulk query reads every
order's money, lines, payments and returns, and its refunds without their lines
(`bulk_documents.bulk_order_money_fields`); an order with a refund is read again whole through the
paginated money read (`get_orders_money`), a batch of ids at a time, and that answer replaces the
bulk one. Orders without refunds, most of a month, cost no query-cost points at all. Line items
and returns, the two connections under an order, come back as child lines told apart by the type
in their id (`bulk_results.reassemble`).

Orders come out in the bulk file's order: an order waits (at most `HELD` of them) until the
refunded orders read before it have been read again.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import bulk_documents as bulk_docs
from .bulk import BULK_QUERY_LIMIT_SECONDS
from .bulk_results import reassemble
from .finance import money_search
from .finance_models import OrderMoney

if TYPE_CHECKING:
    from .bulk import BulkOperation, Count

# Children of an order line in the bulk file, by the type in their id.
MONEY_CHILDREN = {"LineItem": "lineItems", "Return": "returns"}
REREAD_BATCH = 50  # refunded orders asked for in one go (`get_orders_money` pages them by cost)
HELD = 500  # orders held back, at most, waiting for the refunded ones before them


class BulkMoneyApi:
    """Mixed into `ShopifyClient` (which provides the bulk operation, the money read and `_use_bulk`)."""

    if TYPE_CHECKING:  # provided by ShopifyClient

        def run_bulk_query(
            self, query: str, *, timeout: float = BULK_QUERY_LIMIT_SECONDS
        ) -> BulkOperation: ...
        def iter_bulk_objects(self, op: BulkOperation) -> Iterator[dict[str, Any]]: ...
        def get_orders_money(self, order_ids: Sequence[str]) -> list[OrderMoney]: ...
        def iter_orders_money_between(self, field: str, since: datetime, until: datetime | None = None
                                      ) -> Iterator[OrderMoney]: ...  # fmt: skip
        def count_orders(self, search: str, limit: int = 10_000) -> Count: ...
        def _use_bulk(self, count: Callable[[int], Count]) -> bool: ...
        def _with_refunds(
            self, held: list[OrderMoney], refunded: Collection[str]
        ) -> Iterator[OrderMoney]: ...

    def iter_orders_money_created_between(self, start: datetime, end: datetime) -> Iterator[OrderMoney]:
        """Orders created in [start, end) with their money: a backfill window.

        From `bulk_threshold` orders on it is one bulk operation (off the query-cost bucket) plus a
        by-id read of the orders with refunds; smaller windows are read in pages. Same `OrderMoney`
        either way. The count that chooses uses the paginated read's own search, so it also raises
        on a search term Shopify would ignore (a bulk result cannot report one).
        """
        search = money_search("created_at", start, end)
        if self._use_bulk(lambda limit: self.count_orders(search, limit=limit)):
            yield from self.iter_bulk_orders_money(search)
        else:
            yield from self.iter_orders_money_between("created_at", start, end)

    def iter_bulk_orders_money(
        self, search: str, *, timeout: float = BULK_QUERY_LIMIT_SECONDS
    ) -> Iterator[OrderMoney]:
        """Orders matching `search` with their money, through one bulk operation (callers check the
        search by counting first, as `iter_orders_money_created_between` does)."""
        op = self.run_bulk_query(bulk_docs.bulk_orders_money(search), timeout=timeout)
        held: list[OrderMoney] = []
        refunded: set[str] = set()
        for node in reassemble(self.iter_bulk_objects(op), MONEY_CHILDREN, op.id):
            order = OrderMoney.model_validate(node)
            held.append(order)
            if order.refunds:
                refunded.add(order.id)
            if len(refunded) >= REREAD_BATCH or len(held) >= HELD:
                yield from self._with_refunds(held, refunded)
                held, refunded = [], set()
        yield from self._with_refunds(held, refunded)
