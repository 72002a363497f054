"""Sync cursors: how far each poll has read (e.g. Shopify orders updated_at)."""

from __future__ import annotations

import duckdb

from sync_pipeline.lib.ledger.records import utcnow


def get(con: duckdb.DuckDBPyConnection, name: str) -> str | None:
    row = con.execute("SELECT value FROM sync_cursors WHERE name = ?", [name]).fetchone()
    return None if row is None else str(row[0])


def put(con: duckdb.DuckDBPyConnection, name: str, value: str) -> None:
    con.execute(
        "INSERT INTO sync_cursors VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [name, value, utcnow()],
    )
