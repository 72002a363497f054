"""The catalogue on both sides: Shopify variants and Peoplevox item types, into the ledger.

Translation reads Peoplevox item codes from the ledger instead of paging Peoplevox on every
release (50,000 item types is 50 pages at the Peoplevox request limit). The drift check finds
Shopify variants that no Peoplevox item type matches, before an order hits one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow, VariantRow


class VariantSource(Protocol):
    def iter_variants(self) -> Iterator[VariantRow]: ...


class ItemTypeSource(Protocol):
    def iter_item_types(self) -> Iterator[ItemTypeRow]: ...


@dataclass(frozen=True)
class CatalogueReport:
    variants: int
    item_types: int
    unmatched: list[tuple[str, str]]


def refresh_variants(variants: VariantSource, ledger: Ledger) -> int:
    # Read everything before touching the ledger: a failed read changes nothing.
    rows = list(variants.iter_variants())
    with ledger.transaction() as con:
        ledger_catalogue.replace_variants(con, rows)
    return len(rows)


def refresh_item_types(item_types: ItemTypeSource, ledger: Ledger) -> int:
    rows = list(item_types.iter_item_types())
    with ledger.transaction() as con:
        ledger_catalogue.upsert_item_types(con, rows, full=True)
    return len(rows)


def refresh(
    variants: VariantSource, item_types: ItemTypeSource, ledger: Ledger, rules: BusinessRules
) -> CatalogueReport:
    """Both sides at once (tests and one-off use; the assets refresh each side in its own pool)."""
    count_variants = refresh_variants(variants, ledger)
    count_items = refresh_item_types(item_types, ledger)
    return CatalogueReport(count_variants, count_items, unmatched(ledger, rules))


def unmatched(ledger: Ledger, rules: BusinessRules) -> list[tuple[str, str]]:
    with ledger.transaction() as con:
        return ledger_catalogue.variants_without_item_type(
            con, rules.sku_overrides.overrides, rules.bundles.bundles.keys()
        )
