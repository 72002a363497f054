"""What the finance flow needs of each system (adapters: `shopify_port.py`, `peoplevox_port.py`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet


class MoneySource(Protocol):
    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        """Orders whose `created_at` or `updated_at` is in [since, until), oldest change first."""
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
