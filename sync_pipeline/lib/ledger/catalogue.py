"""The catalogue on both sides: Shopify variants and Peoplevox item types."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import duckdb

from sync_pipeline.lib.ledger.bulk import BOOL, TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import utcnow


@dataclass(frozen=True)
class VariantRow:
    variant_id: str
    sku: str | None
    barcode: str | None
    inventory_item_id: str | None
    product_title: str | None
    requires_components: bool
    product_tags: tuple[str, ...] = ()
    tracked: bool = True


@dataclass(frozen=True)
class ItemTypeRow:
    item_code: str
    barcode: str | None
    name: str | None


_VARIANT_COLUMNS = {
    "variant_id": TEXT, "sku": TEXT, "barcode": TEXT, "inventory_item_id": TEXT, "product_title": TEXT,
    "requires_components": BOOL, "seen_at": TIME, "product_tags": TEXT, "tracked": BOOL,
}  # fmt: skip
_ITEM_TYPE_COLUMNS = {"item_code": TEXT, "barcode": TEXT, "name": TEXT, "seen_at": TIME}


def replace_variants(con: duckdb.DuckDBPyConnection, rows: Iterable[VariantRow]) -> int:
    """A full read replaces the table: variants deleted in Shopify disappear here too."""
    now = utcnow()
    data = [
        (r.variant_id, r.sku, r.barcode, r.inventory_item_id, r.product_title, r.requires_components, now,
         json.dumps(list(r.product_tags)), r.tracked)
        for r in rows
    ]  # fmt: skip
    con.execute("DELETE FROM shopify_variants")
    if data:
        # In bulk: row by row, a 50,000-SKU catalogue held the ledger for minutes.
        with staged(con, "variants_in", _VARIANT_COLUMNS, data):
            con.execute(
                "INSERT INTO shopify_variants (variant_id, sku, barcode, inventory_item_id, product_title, "
                "requires_components, seen_at, product_tags, tracked) SELECT variant_id, sku, barcode, "
                "inventory_item_id, product_title, requires_components, seen_at, product_tags, tracked "
                "FROM variants_in"
            )
    return len(data)


def stocked_variants(con: duckdb.DuckDBPyConnection) -> list[VariantRow]:
    """Variants whose stock Shopify tracks and we may set: a SKU, an inventory item, tracked, and
    not a Shopify bundle parent (Shopify refuses writes to those and derives them itself)."""
    rows = con.execute(
        "SELECT variant_id, sku, barcode, inventory_item_id, product_title, requires_components, "
        "coalesce(product_tags, '[]'), coalesce(tracked, true) FROM shopify_variants "
        "WHERE sku IS NOT NULL AND sku <> '' AND inventory_item_id IS NOT NULL AND NOT requires_components "
        "AND coalesce(tracked, true) ORDER BY sku, variant_id"
    ).fetchall()
    tags: dict[str, tuple[str, ...]] = {}  # most variants share a handful of tag lists: parse each once

    def parsed(raw: str | list[str]) -> tuple[str, ...]:
        if not isinstance(raw, str):
            return tuple(raw)
        if raw not in tags:
            tags[raw] = tuple(json.loads(raw))
        return tags[raw]

    return [VariantRow(r[0], r[1], r[2], r[3], r[4], r[5], parsed(r[6]), r[7]) for r in rows]


def untracked_variants(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str | None]]:
    """(sku, variant id, product title) of variants with a SKU and an inventory item whose stock
    Shopify does not track (`stocked_variants` leaves them out: no push can set them). Bundle parents
    are not listed: Shopify derives them and the stock flow never sets them anyway."""
    return [
        (r[0], r[1], r[2])
        for r in con.execute(
            "SELECT sku, variant_id, product_title FROM shopify_variants WHERE sku IS NOT NULL AND sku <> '' "
            "AND inventory_item_id IS NOT NULL AND NOT requires_components AND NOT coalesce(tracked, true) "
            "ORDER BY sku, variant_id"
        ).fetchall()
    ]


def upsert_item_types(con: duckdb.DuckDBPyConnection, rows: Iterable[ItemTypeRow], full: bool = False) -> int:
    """Add or refresh item types; `full=True` means this is every item type Peoplevox has."""
    now = utcnow()
    # One row per code (the last read wins): one statement may not update a row twice.
    data = list({r.item_code: (r.item_code, r.barcode, r.name, now) for r in rows}.values())
    if full:
        con.execute("DELETE FROM pvx_item_types")
    if data:
        with staged(con, "item_types_in", _ITEM_TYPE_COLUMNS, data):
            con.execute(
                "INSERT INTO pvx_item_types SELECT item_code, barcode, name, seen_at FROM item_types_in "
                "ON CONFLICT (item_code) DO UPDATE SET barcode = excluded.barcode, name = excluded.name, "
                "seen_at = excluded.seen_at"
            )
    return len(data)


def known_item_codes(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("SELECT item_code FROM pvx_item_types").fetchall()}


def variants_without_item_type(
    con: duckdb.DuckDBPyConnection, overrides: Mapping[str, str], bundle_skus: Iterable[str]
) -> list[tuple[str, str]]:
    """(sku, product title) of sellable variants that map to no Peoplevox item type.

    Bundles are exploded before they reach the warehouse, so they need no item type of their
    own; variants with components (Shopify bundles) likewise.
    """
    con.execute("CREATE OR REPLACE TEMP TABLE sku_override_map (sku VARCHAR, item_code VARCHAR)")
    if overrides:
        con.executemany("INSERT INTO sku_override_map VALUES (?, ?)", list(overrides.items()))
    con.execute("CREATE OR REPLACE TEMP TABLE config_bundle_skus (sku VARCHAR)")
    bundles = [[s] for s in bundle_skus]
    if bundles:
        con.executemany("INSERT INTO config_bundle_skus VALUES (?)", bundles)
    rows = con.execute(
        """
        SELECT v.sku, coalesce(v.product_title, '') FROM shopify_variants v
        LEFT JOIN sku_override_map o ON o.sku = v.sku
        LEFT JOIN pvx_item_types t ON t.item_code = coalesce(o.item_code, v.sku)
        WHERE v.sku IS NOT NULL AND v.sku <> '' AND NOT v.requires_components
          AND v.sku NOT IN (SELECT sku FROM config_bundle_skus)
          AND t.item_code IS NULL
        ORDER BY v.sku
        """
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    variants = con.execute("SELECT count(*) FROM shopify_variants").fetchone()
    items = con.execute("SELECT count(*) FROM pvx_item_types").fetchone()
    return int(variants[0]) if variants else 0, int(items[0]) if items else 0
