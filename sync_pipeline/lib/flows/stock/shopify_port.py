"""The stock flow's view of Shopify, built on `lib/shopify.ShopifyClient`.

`set_available` sends one `inventorySetQuantities` (name `available`, reason `correction`) with
`changeFromQuantity` on every row and the caller's `@idempotent` key. Shopify applies a request
whole or not at all: a stale `changeFromQuantity` (CHANGE_FROM_QUANTITY_STALE) on any row means
nothing changed, and the rows named by the error's `field` path are the stale ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sync_pipeline.lib.flows.stock.ports import (
    Location,
    QuantityWrite,
    StaleWrite,
    WriteOutcomeUnknown,
    WriteRefused,
)
from sync_pipeline.lib.ledger.stock_levels import LevelRow
from sync_pipeline.lib.shopify import ShopifyClient, ShopifyUserErrors
from sync_pipeline.lib.shopify.errors import ShopifyOutcomeUnknown, ShopifyRetriesExhausted
from sync_pipeline.lib.shopify.models import StockWrite

NAMES = ("available", "committed")
STALE = "CHANGE_FROM_QUANTITY_STALE"


def _row_index(field: list[str] | None) -> int | None:
    """`["input", "quantities", "3", "changeFromQuantity"]` → 3."""
    if field and len(field) >= 3 and field[1] == "quantities" and field[2].isdigit():
        return int(field[2])
    return None


class ShopifyStock:
    """`Storefront` over the Shopify Admin API."""

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client

    def locations(self) -> list[Location]:
        return [Location(loc.id, loc.name, loc.is_active) for loc in self.client.list_locations()]

    def levels(self, inventory_item_ids: Sequence[str], location_id: str) -> dict[str, LevelRow]:
        found = self.client.get_inventory_levels(list(inventory_item_ids), location_id, NAMES)
        return {
            item_id: LevelRow(
                item_id,
                location_id,
                level.quantities.get("available") if level.quantities is not None else None,
                level.quantities.get("committed") if level.quantities is not None else None,
            )
            for item_id, level in found.items()
        }

    def levels_updated_since(self, location_id: str, since: datetime | None) -> list[LevelRow]:
        return [
            LevelRow(
                lv.inventory_item_id,
                location_id,
                (lv.quantities or {}).get("available"),
                (lv.quantities or {}).get("committed"),
                lv.updated_at,
            )
            for lv in self.client.iter_location_levels(location_id, NAMES, updated_since=since)
        ]

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        rows = [StockWrite(inventory_item_id=w.inventory_item_id, location_id=w.location_id,
                           quantity=w.quantity, expected=w.expected) for w in writes]  # fmt: skip
        try:
            self.client.set_inventory_quantities(
                rows, reason="correction", reference_document_uri=reference, idempotency_key=key
            )
        except ShopifyUserErrors as error:
            if error.errors and all(e.code == STALE for e in error.errors):
                indices = sorted({i for e in error.errors if (i := _row_index(e.field)) is not None})
                raise StaleWrite(indices, str(error)) from error
            # Shopify names every row's error at once. A stale row beside a refused one is not
            # refused: only the rows whose errors are not stale are, and the others (the stale
            # ones too) go again, where a stale row is re-read like any other.
            refused = [e for e in error.errors if e.code != STALE]
            named = sorted({i for e in refused if (i := _row_index(e.field)) is not None})
            if any(_row_index(e.field) is None for e in refused):
                named = []  # an error about the whole request (its reason, say): every row is refused
            raise WriteRefused(named, "; ".join(e.message for e in refused)) from error
        except (ShopifyOutcomeUnknown, ShopifyRetriesExhausted) as error:
            raise WriteOutcomeUnknown(str(error)) from error

    def points_spent(self) -> float:
        return self.client.stats.points_spent

    def bucket_size(self) -> float | None:
        return self.client.transport.pacer.maximum

    def bucket_available(self) -> float | None:
        return self.client.transport.pacer.estimate()
