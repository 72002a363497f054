"""What the stock flow needs from each system, as small protocols; adapters beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class ItemAvailability:
    """One row of Peoplevox's Item inventory summary: an item at a site."""

    item_code: str
    site: str
    available: int
    on_hand: int | None = None
    allocated: int | None = None


class StockSource(Protocol):
    def all_items(self) -> list[ItemAvailability]:
        """Every item at every site."""
        ...

    def items(self, item_codes: Sequence[str]) -> list[ItemAvailability]:
        """These items at every site (an availability callback names no site)."""
        ...

    def can_ask(self, item_code: str) -> bool:
        """Whether `items` can name this code (a full read reads every code)."""
        ...


@dataclass(frozen=True)
class LevelRead:
    """One Shopify inventory level: an inventory item at a location."""

    inventory_item_id: str
    location_id: str
    available: int | None  # None: not stocked at the location
    committed: int | None
    updated_at: datetime | None = None


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

    def levels(self, inventory_item_ids: Sequence[str], location_id: str) -> dict[str, LevelRead]:
        """Current levels of these items at a location, keyed by inventory item id."""
        ...

    def levels_updated_since(self, location_id: str, since: datetime | None) -> list[LevelRead]:
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
