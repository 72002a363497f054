"""What the stock flow needs from each system, as small protocols; adapters beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# The rows the ledger stores are the rows the systems are read into: one type each, no conversions.
from sync_pipeline.lib.ledger.stock_levels import LevelRow
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow


@dataclass
class ReadCost:
    """What one read of the source cost: requests sent, seconds waiting for the rate limiter's
    pacer, seconds on the wire (requests out and answers back)."""

    requests: int = 0
    pacer_wait_seconds: float = 0.0
    wire_seconds: float = 0.0
    whole_report: bool = False  # paged through every item rather than naming the items asked


class StockSource(Protocol):
    last_cost: ReadCost  # of the latest `all_items` or `items`

    def all_items(self) -> list[SnapshotRow]:
        """Every item at every site."""
        ...

    def items(self, item_codes: Sequence[str], report_rows: int = 0) -> list[SnapshotRow]:
        """These items at every site (an availability callback names no site). `report_rows`: how
        many item-site rows a read of every item holds, as last seen (0: unknown), so the source
        can read them the cheaper way."""
        ...

    def can_ask(self, item_code: str) -> bool:
        """Whether `items` can name this code (a full read reads every code)."""
        ...


@dataclass(frozen=True)
class QuantityWrite:
    inventory_item_id: str
    location_id: str
    quantity: int
    expected: int  # changeFromQuantity: what we read


class StaleWrite(Exception):
    """changeFromQuantity no longer matched for these rows (indices into the request): Shopify
    changed nothing; re-read and try again, never overwrite blind."""

    def __init__(self, indices: list[int], message: str) -> None:
        super().__init__(message)
        self.indices = indices


class WriteRefused(Exception):
    """Shopify refused the request with userErrors (not a stale read): nothing was changed."""

    def __init__(self, indices: list[int], message: str) -> None:
        super().__init__(message)
        self.indices = indices


class WriteOutcomeUnknown(Exception):
    """The request may or may not have been applied: read the levels back before anything else."""


@dataclass(frozen=True)
class Location:
    id: str
    name: str
    active: bool


class Storefront(Protocol):
    def locations(self) -> list[Location]: ...

    def levels(self, inventory_item_ids: Sequence[str], location_id: str) -> dict[str, LevelRow]:
        """Current levels of these items at a location, keyed by inventory item id."""
        ...

    def levels_updated_since(self, location_id: str, since: datetime | None) -> list[LevelRow]:
        """Levels at a location updated at or after `since` (every level stocked there for None)."""
        ...

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        """One inventorySetQuantities (at most 250 rows), compare-and-set, idempotent by `key`."""
        ...

    def points_spent(self) -> float:
        """Shopify points this storefront has spent so far (its client's own count)."""
        ...

    def bucket_size(self) -> float | None:
        """The rate-limit bucket's size, once Shopify has told us."""
        ...

    def bucket_available(self) -> float | None:
        """Points the bucket holds now (estimated from the last answer's throttleStatus), or None."""
        ...
