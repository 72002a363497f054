"""What the orders flow needs from each system, as small protocols.

The adapters (`shopify_port.py`, `peoplevox_port.py`) implement them with the real clients;
tests may drive the flow through the same adapters against the sandboxes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sync_pipeline.lib.domain.models import Attribute, ShippingAddress, ShopOrder
from sync_pipeline.lib.domain.sales_order import SalesOrderHeader, SalesOrderItem


@dataclass(frozen=True)
class ListedOrder:
    """An order as the cheap change listing shows it: its version and a few fields that cost
    nothing to list (see `changes.py`), never enough to record it."""

    id: str
    updated_at: datetime
    cancelled_at: datetime | None
    financial_status: str | None
    email: str | None
    phone: str | None
    tags: frozenset[str]
    line_units: int | None  # the sum of the lines' current quantities


@dataclass(frozen=True)
class OrderDelivery:
    """An order's version with the fields routing and the parcel read that a webhook body could
    have missed (a second change in its second whose webhook was lost; see `release/reread.py`)."""

    updated_at: datetime
    shipping_address: ShippingAddress | None
    shipping_line_code: str | None
    shipping_line_title: str | None
    custom_attributes: tuple[Attribute, ...]

    def agrees(self, order: ShopOrder) -> bool:
        """True when `order` has these fields as Shopify has them now."""
        return (
            order.shipping_address == self.shipping_address
            and order.shipping_line_code == self.shipping_line_code
            and order.shipping_line_title == self.shipping_line_title
            and order.custom_attributes == self.custom_attributes
        )


class OrdersSource(Protocol):
    def order_changes_since(self, since: datetime) -> Iterator[ListedOrder]:
        """Orders updated at or after `since`, oldest update first, listed cheaply (no content)."""
        ...

    def orders_created_between(self, start: datetime, end: datetime) -> Iterator[ShopOrder]:
        """Orders created in [start, end): a backfill window."""
        ...

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        """A fresh read of these orders (missing ids are left out)."""
        ...

    def order_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
        """Each order's current `updatedAt` (missing ids are left out): a cheap freshness check."""
        ...

    def order_deliveries(self, ids: Sequence[str]) -> dict[str, OrderDelivery]:
        """Each order's current `updatedAt` with its address, shipping line and cart attributes
        (missing ids are left out): four points an order, against 72 for a read in full."""
        ...

    def customer_tags(self, ids: Sequence[str]) -> dict[str, tuple[datetime, tuple[str, ...]]]:
        """Each order's current `updatedAt` and its customer's tags (missing ids are left out)."""
        ...


@dataclass(frozen=True)
class RowResult:
    """Peoplevox's verdict on one row of a SaveData call."""

    key: str  # SalesOrderNumber
    ok: bool
    message: str = ""


class SaveOutcomeUnknownError(Exception):
    """The call may or may not have been applied: look the rows up before resending."""


class BatchRefusedError(Exception):
    """Peoplevox refused the whole request (a fault, not per-row verdicts): nothing was saved."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class WarehouseOrder:
    sales_order_number: str
    status: str
    item_quantities: dict[str, int]  # filled only when asked `with_items`
    header: dict[str, str] = field(default_factory=dict)  # the header columns as Peoplevox has them


@dataclass(frozen=True)
class StatusChanges:
    """Sales orders Peoplevox modified since a time, with the status each has now."""

    statuses: dict[str, str]  # sales order number → status
    newest: datetime | None  # the latest modification time read (None: nothing modified)
    requests: int = 0


class Warehouse(Protocol):
    def find_sales_orders(self, numbers: Sequence[str], with_items: bool) -> dict[str, WarehouseOrder]:
        """The sales orders Peoplevox has among `numbers`, with their status (and items)."""
        ...

    def statuses_changed_since(self, since: datetime) -> StatusChanges | None:
        """Every sales order modified at or after `since`, with its status, in as few requests as
        the warehouse allows; None when the warehouse cannot list changes (then read by number)."""
        ...

    def existing_item_codes(self, codes: Sequence[str]) -> set[str]:
        """Which of these item codes exist as Peoplevox item types."""
        ...

    def save_headers(self, headers: Sequence[SalesOrderHeader]) -> list[RowResult]: ...

    def save_items(self, items: Sequence[SalesOrderItem]) -> list[RowResult]: ...

    def cancel(self, numbers: Sequence[str]) -> list[RowResult]: ...

    def update_headers(self, rows: Sequence[dict[str, str]]) -> list[RowResult]:
        """Partial-column updates keyed by SalesOrderNumber (only the columns given change)."""
        ...
