"""Peak mode's switches (`stock_peak_switches`, migration 0018) and the listings a switch moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger.records import to_naive_utc

PEAK = "+peak"  # the suffix a buffer's source carries when peak mode added to it (domain/buffers.py)


@dataclass(frozen=True)
class PeakSwitch:
    switch_id: int
    switched_at: datetime
    peak: bool
    orders_in_window: int
    window_minutes: int
    orders_per_minute: float | None
    listings_changed: int
    items_queued: int
    reconcile: bool
    actor: str


_COLUMNS = (
    "switch_id, switched_at, peak, orders_in_window, window_minutes, orders_per_minute, "
    "listings_changed, items_queued, reconcile, actor"
)


def latest(con: duckdb.DuckDBPyConnection) -> PeakSwitch | None:
    row = con.execute(
        f"SELECT {_COLUMNS} FROM stock_peak_switches ORDER BY switch_id DESC LIMIT 1"
    ).fetchone()
    return PeakSwitch(*row) if row else None


def history(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[PeakSwitch]:
    """The newest switches first."""
    rows = con.execute(
        f"SELECT {_COLUMNS} FROM stock_peak_switches ORDER BY switch_id DESC LIMIT ?", [limit]
    ).fetchall()
    return [PeakSwitch(*r) for r in rows]


def record(
    con: duckdb.DuckDBPyConnection,
    at: datetime,
    peak: bool,
    orders_in_window: int,
    window_minutes: int,
    orders_per_minute: float | None,
    listings_changed: int,
    items_queued: int,
    reconcile: bool,
    actor: str,
) -> int:
    row = con.execute(
        "INSERT INTO stock_peak_switches (switched_at, peak, orders_in_window, window_minutes, "
        "orders_per_minute, listings_changed, items_queued, reconcile, actor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING switch_id",
        [to_naive_utc(at), peak, orders_in_window, window_minutes, orders_per_minute, listings_changed,
         items_queued, reconcile, actor],
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def positions_moved_by(con: duckdb.DuckDBPyConnection, peak: bool) -> list[tuple[str, str]]:
    """(listing key, location) of the published positions whose target a switch to `peak` moves, from
    what was last pushed (`stock_positions`). On: every buffer not set by SKU and not yet grown
    whose target is above 0 (it drops by the extra). Off: every grown buffer whose item has stock
    (it may rise: a target of 0 may have been held there by the extra alone; a superset, which
    costs a re-read, never a missed raise)."""
    if peak:
        where = "buffer_source <> 'sku' AND NOT ends_with(buffer_source, ?) AND target > 0"
    else:
        where = "ends_with(buffer_source, ?) AND peoplevox_available > 0"
    rows = con.execute(
        f"SELECT sku, location_id FROM stock_positions WHERE {where} ORDER BY sku, location_id", [PEAK]
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
