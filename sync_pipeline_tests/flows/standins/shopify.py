"""Shopify in memory, as the orders flow's `OrdersSource` port sees it.

Strict where it matters to the ledger: `updatedAt` has Shopify's one-second resolution, so two
changes in one second share a version (real Shopify does this; our sandbox only with its
`same_second_updates` setting); a search read serves orders oldest update first and can be
interleaved with a change (`during_next_read`), as a read that pages while customers edit is;
every change sends an `orders/updated` webhook to the inbox unless webhooks are being dropped,
its body the order at that version in Shopify's REST shape (`rest.py`).
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sync_pipeline.lib.domain.models import ShopLine, ShopOrder
from sync_pipeline.lib.flows.orders.ports import ListedOrder, OrderDelivery
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline_tests.domain.factories import GOOD_ADDRESS
from sync_pipeline_tests.flows.standins.rest import rest_body


def listed(order: ShopOrder) -> ListedOrder:
    """What Shopify's cheap change listing shows of an order (see `lib/flows/orders/changes.py`)."""
    return ListedOrder(
        id=order.id,
        updated_at=order.updated_at,
        cancelled_at=order.cancelled_at,
        financial_status=order.financial_status,
        email=order.email,
        phone=order.phone,
        tags=frozenset(order.tags),
        line_units=sum(line.quantity for line in order.lines),
    )


class InMemoryShopify:
    def __init__(self, start: datetime, inbox: Inbox | None = None) -> None:
        self.now = start
        self.inbox = inbox
        self.orders: dict[str, ShopOrder] = {}
        self.drop_webhooks = False
        # Changes applied by a search read after it has served its first order.
        self.during_next_read: list[Callable[[], None]] = []
        self._ids = itertools.count(1001)
        self._line_ids = itertools.count(1)
        self.reads_by_id = 0

    # -- the clock -----------------------------------------------------------------------
    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def second(self) -> datetime:
        return self.now.replace(microsecond=0)

    # -- changes, as customers and staff make them ---------------------------------------------
    def _save(self, order: ShopOrder, topic: str) -> ShopOrder:
        old = self.orders.get(order.id)
        # One-second resolution and never backwards: a change in the same second keeps the version.
        version = max(self.second(), old.updated_at) if old else self.second()
        order = order.model_copy(update={"updated_at": version})
        self.orders[order.id] = order
        if self.inbox is not None and not self.drop_webhooks:
            hook = str(uuid.uuid4())
            payload = rest_body(order, customer=bool(order.customer_tags))
            self.inbox.write("shopify", {"topic": topic, "webhook_id": hook, "payload": payload}, hook)
        return order

    def place(self, lines: Sequence[tuple[str, int]], paid: bool = True, **fields: Any) -> str:
        number = next(self._ids)
        oid = f"gid://shopify/Order/{number}"
        shop_lines = tuple(self._line(sku, qty) for sku, qty in lines)
        order = ShopOrder(
            id=oid,
            name=f"#{number}",
            created_at=self.second(),
            updated_at=self.second(),
            processed_at=self.second(),
            financial_status="PAID" if paid else "PENDING",
            email=f"customer{number}@example.com",
            shipping_address=GOOD_ADDRESS,
            shipping_line_title="Standard",
            source_name="web",
            total=sum((line.unit_price * line.quantity for line in shop_lines), Decimal("0")),
            lines=shop_lines,
            **fields,
        )
        self._save(order, "orders/create")
        return oid

    def _line(self, sku: str, quantity: int) -> ShopLine:
        line_id = f"gid://shopify/LineItem/{next(self._line_ids)}"
        return ShopLine(id=line_id, sku=sku, quantity=quantity, unit_price=Decimal("20.00"))

    def change(self, oid: str, topic: str = "orders/updated", **fields: Any) -> ShopOrder:
        return self._save(self.orders[oid].model_copy(update=fields), topic)

    def pay(self, oid: str) -> ShopOrder:
        return self.change(oid, "orders/paid", financial_status="PAID")

    def set_quantity(self, oid: str, sku: str, quantity: int) -> ShopOrder:
        """An order edit: the SKU's (first) line gets `quantity`; a new SKU gets a new line."""
        order = self.orders[oid]
        lines = list(order.lines)
        for index, line in enumerate(lines):
            if line.sku == sku:
                lines[index] = line.model_copy(update={"quantity": quantity})
                break
        else:
            if quantity:
                lines.append(self._line(sku, quantity))
        return self.change(oid, "orders/edited", lines=tuple(lines))

    def cancel(self, oid: str) -> ShopOrder:
        order = self.orders[oid]
        status = "REFUNDED" if order.financial_status.upper() in ("PAID", "PARTIALLY_REFUNDED") else "VOIDED"
        return self.change(oid, "orders/cancelled", cancelled_at=self.second(), financial_status=status)

    def refund(self, oid: str, restock: bool) -> ShopOrder:
        """A full refund without cancelling; `restock` refunds the line items too (currentQuantity 0)."""
        order = self.orders[oid]
        lines = (
            tuple(line.model_copy(update={"quantity": 0}) for line in order.lines) if restock else order.lines
        )
        return self.change(oid, "orders/updated", financial_status="REFUNDED", lines=lines)

    # -- the OrdersSource port (a search read: oldest update first, paged by (updatedAt, id)) --
    def _search(self, since: datetime) -> Iterator[ShopOrder]:
        interleaved, self.during_next_read = self.during_next_read, []
        cursor: tuple[datetime, str] | None = None
        while True:
            # Paged by (updatedAt, id) after the last one served, as a cursor pages: an order
            # changed to a later second is served again, one changed within the second is not.
            candidates = [
                o
                for o in self.orders.values()
                if o.updated_at >= since and (cursor is None or (o.updated_at, o.id) > cursor)
            ]
            if not candidates:
                return
            order = min(candidates, key=lambda o: (o.updated_at, o.id))
            cursor = (order.updated_at, order.id)
            yield order
            for change in interleaved:
                change()
            interleaved = []

    def order_changes_since(self, since: datetime) -> Iterator[ListedOrder]:
        # The same search, listing only what Shopify's cheap listing carries.
        return map(listed, self._search(since))

    def orders_created_between(self, start: datetime, end: datetime) -> Iterator[ShopOrder]:
        yield from sorted(
            (o for o in self.orders.values() if start <= o.created_at < end), key=lambda o: o.id
        )

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        _check_ids(ids)
        self.reads_by_id += len(ids)
        return {i: self.orders[i] for i in ids if i in self.orders}

    def order_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
        _check_ids(ids)
        return {i: self.orders[i].updated_at for i in ids if i in self.orders}

    def order_deliveries(self, ids: Sequence[str]) -> dict[str, OrderDelivery]:
        _check_ids(ids)
        return {
            i: OrderDelivery(
                updated_at=o.updated_at,
                shipping_address=o.shipping_address,
                shipping_line_code=o.shipping_line_code,
                shipping_line_title=o.shipping_line_title,
                custom_attributes=o.custom_attributes,
            )
            for i in ids
            if (o := self.orders.get(i)) is not None
        }

    def customer_tags(self, ids: Sequence[str]) -> dict[str, tuple[datetime, tuple[str, ...]]]:
        _check_ids(ids)
        return {
            i: (self.orders[i].updated_at, self.orders[i].customer_tags or ())
            for i in ids
            if i in self.orders
        }


_ORDER_GID = re.compile(r"gid://shopify/Order/[0-9]+")


def _check_ids(ids: Sequence[str]) -> None:
    """`nodes(ids:)` answers null for an id it does not hold, but refuses the whole query for an
    id that is no global id at all (as the sandbox does: "Invalid global id")."""
    for i in ids:
        if not _ORDER_GID.fullmatch(i):
            raise ValueError(f"OrdersByIds: Invalid global id {i!r}")
