"""What the finance flow needs of each system (adapters: `shopify_port.py`, `peoplevox_port.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet


@dataclass(frozen=True)
class OrdersPage:
    """One page of orders changed since a moment, and the newest change the listing showed (a
    cursor may go that far: an order read again after its listing may be newer than the orders
    listed after it)."""

    orders: list[FinanceOrderSet]
    listed_up_to: datetime | None


class MoneySource(Protocol):
    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        """Orders whose `created_at` or `updated_at` is in [since, until), oldest change first."""
        ...

    def pages_changed_since(self, since: datetime) -> Iterator[OrdersPage]:
        """Orders whose `updated_at` is `since` or later, oldest change first, a page at a time (a
        read with a time budget stops between two pages)."""
        ...

    def orders(self, order_ids: Sequence[str]) -> list[FinanceOrderSet]: ...


@dataclass(frozen=True)
class ReturnedItem:
    """One row of the warehouse's Return summary."""

    return_code: str
    sales_order_number: str
    item_code: str
    quantity: int
    reason: str | None
    condition: str | None
    returned_at: datetime | None
    site: str | None


class ReturnSource(Protocol):
    def returns_between(self, since: datetime, until: datetime | None = None) -> list[ReturnedItem]:
        """Rows dated in [since, until)."""
        ...

    def returns_by_code(self, return_codes: Sequence[str]) -> list[ReturnedItem]:
        """Every current row of these returns, whatever their dates."""
        ...
