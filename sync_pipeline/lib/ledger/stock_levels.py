"""Shopify's inventory levels as the stock flow knows them, and each listing's latest target.

`shopify_stock_levels` is the flow's copy of Shopify: levels read (all of them, or those updated
since the last read) and the quantities we set. `stock_positions` is one row per SKU and location
we publish: the target last computed, what it was made of, and what Shopify was last seen holding;
the stock_drift check reads it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

import duckdb

from sync_pipeline.lib.ledger.bulk import INT, TEXT, TIME, staged
from sync_pipeline.lib.ledger.records import to_naive_utc


# NamedTuples rather than frozen dataclasses: a full reconcile reads and writes one per SKU and
# location (100,000 at 50,000 SKUs), and they cost a third as much to build.
class LevelRow(NamedTuple):
    """One Shopify inventory level: an inventory item at a location (as read, and as the copy holds it)."""

    inventory_item_id: str
    location_id: str
    available: int | None  # None: not stocked at the location
    committed: int | None
    shopify_updated_at: datetime | None = None


class PositionRow(NamedTuple):
    sku: str
    location_id: str
    inventory_item_id: str
    site: str
    target: int
    peoplevox_available: int
    reserved: int
    buffer: int
    buffer_source: str
    shopify_available: int | None
    computed_at: datetime
    last_pushed_at: datetime | None
    last_outcome: str | None


_LEVEL_COLUMNS = {
    "inventory_item_id": TEXT,
    "location_id": TEXT,
    "available": INT,
    "committed": INT,
    "shopify_updated_at": TIME,
}
_POSITION_TYPES = {
    "sku": TEXT, "location_id": TEXT, "inventory_item_id": TEXT, "site": TEXT, "target": INT,
    "peoplevox_available": INT, "reserved": INT, "buffer": INT, "buffer_source": TEXT,
    "shopify_available": INT, "computed_at": TIME, "last_pushed_at": TIME, "last_outcome": TEXT,
}  # fmt: skip
_POSITION_COLUMNS = ", ".join(PositionRow._fields)


def upsert_levels(con: duckdb.DuckDBPyConnection, levels: Iterable[LevelRow], read_at: datetime) -> int:
    data = [
        (
            lv.inventory_item_id,
            lv.location_id,
            lv.available,
            lv.committed,
            to_naive_utc(lv.shopify_updated_at),
        )
        for lv in levels
    ]
    if not data:
        return 0
    with staged(con, "levels_in", _LEVEL_COLUMNS, data):
        con.execute(
            "INSERT OR REPLACE INTO shopify_stock_levels SELECT inventory_item_id, location_id, available, "
            "committed, shopify_updated_at, ? FROM levels_in",
            [to_naive_utc(read_at)],
        )
    return len(data)


def quantities(con: duckdb.DuckDBPyConnection) -> list[LevelRow]:
    """The whole copy without `updatedAt` (what targets need; converting 100,000 timestamps to
    Python costs more than the rest of the read)."""
    rows = con.execute(
        "SELECT inventory_item_id, location_id, available, committed FROM shopify_stock_levels"
    ).fetchall()
    return [LevelRow(r[0], r[1], r[2], r[3]) for r in rows]


def set_available(
    con: duckdb.DuckDBPyConnection, written: Iterable[tuple[str, str, int]], at: datetime
) -> None:
    """Quantities Shopify accepted from us: (inventory item id, location id, available)."""
    data = list(written)
    if not data:
        return
    with staged(
        con, "written_levels", {"inventory_item_id": TEXT, "location_id": TEXT, "available": INT}, data
    ):
        con.execute(
            "UPDATE shopify_stock_levels l SET available = w.available, read_at = ? FROM written_levels w "
            "WHERE l.inventory_item_id = w.inventory_item_id AND l.location_id = w.location_id",
            [to_naive_utc(at)],
        )


def newest_shopify_update(con: duckdb.DuckDBPyConnection, location_id: str) -> datetime | None:
    row = con.execute(
        "SELECT max(shopify_updated_at) FROM shopify_stock_levels WHERE location_id = ?", [location_id]
    ).fetchone()
    return row[0] if row else None


def upsert_positions(con: duckdb.DuckDBPyConnection, rows: Iterable[PositionRow]) -> int:
    data = list(rows)  # each row is already a tuple of its columns, in order
    if not data:
        return 0
    with staged(con, "positions_in", _POSITION_TYPES, data):
        con.execute(f"INSERT OR REPLACE INTO stock_positions SELECT {_POSITION_COLUMNS} FROM positions_in")
    return len(data)


def positions(
    con: duckdb.DuckDBPyConnection, skus: Collection[str] | None = None
) -> dict[tuple[str, str], PositionRow]:
    sql = f"SELECT {_POSITION_COLUMNS} FROM stock_positions"
    if skus is None:
        rows = con.execute(sql).fetchall()
    else:
        with staged(con, "wanted_skus", {"sku": TEXT}, [(s,) for s in skus]):
            rows = con.execute(sql + " WHERE sku IN (SELECT sku FROM wanted_skus)").fetchall()
    return {(r[0], r[1]): PositionRow(*r) for r in rows}


def drifted(
    con: duckdb.DuckDBPyConnection, settled_before: datetime, tolerance: int, limit: int = 25
) -> tuple[int, list[PositionRow]]:
    """(how many, the worst) positions where Shopify differs from the target by more than
    `tolerance`, among those not pushed since `settled_before`."""
    where = (
        "shopify_available IS NOT NULL AND abs(shopify_available - target) > ? "
        "AND coalesce(last_pushed_at, computed_at) <= ?"
    )
    params = [tolerance, to_naive_utc(settled_before)]
    count = con.execute(f"SELECT count(*) FROM stock_positions WHERE {where}", params).fetchone()
    rows = con.execute(
        f"SELECT {_POSITION_COLUMNS} FROM stock_positions WHERE {where} "
        "ORDER BY abs(shopify_available - target) DESC, sku LIMIT ?",
        [*params, limit],
    ).fetchall()
    return int(count[0]) if count else 0, [PositionRow(*r) for r in rows]


def position_totals(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        "SELECT count(*), coalesce(sum(target), 0), coalesce(sum(shopify_available), 0), "
        "count(*) FILTER (WHERE shopify_available IS DISTINCT FROM target) FROM stock_positions"
    ).fetchone()
    assert row is not None
    return {"listings": int(row[0]), "target_units": int(row[1]), "shopify_units": int(row[2]),
            "differing": int(row[3])}  # fmt: skip
