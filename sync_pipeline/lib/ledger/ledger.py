"""`Ledger`: the one entry point to the DuckDB file for assets, the CLI and tests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from sync_pipeline.lib.ledger import cursors, events, exceptions, schema
from sync_pipeline.lib.ledger.connection import LedgerConnection
from sync_pipeline.lib.ledger.records import ExceptionRecord, OpenException, OrderEvent

LEDGER_TABLES = (
    "orders",
    "order_lines",
    "order_events",
    "pvx_injections",
    "despatch_packages",
    "shopify_fulfilments",
    "stock_snapshots",
    "stock_snapshot_rows",
    "stock_available",
    "stock_dirty_items",
    "shopify_stock_levels",
    "stock_positions",
    "stock_pushes",
    "exceptions",
    "sync_cursors",
    "subscriptions",
    "shopify_variants",
    "pvx_item_types",
)


class Ledger:
    """The product's memory. Each method is one short transaction on a fresh connection."""

    def __init__(self, path: Path | str, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self._conn = LedgerConnection(self.path, busy_timeout=busy_timeout)
        self._migrated = False

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One BEGIN…COMMIT on a fresh connection, schema migrated first. Keep it short: no I/O inside."""
        with self._conn.transaction() as con:
            if not self._migrated:
                schema.apply_pending(con)
            yield con
        self._migrated = True

    def migrate(self) -> list[int]:
        """Apply pending migrations now; returns the versions applied."""
        with self._conn.transaction() as con:
            applied = schema.apply_pending(con)
        self._migrated = True
        return [m.version for m in applied]

    def schema_version(self) -> int:
        with self.transaction() as con:
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    # cursors
    def get_cursor(self, name: str) -> str | None:
        with self.transaction() as con:
            return cursors.get(con, name)

    def set_cursor(self, name: str, value: str) -> None:
        with self.transaction() as con:
            cursors.put(con, name, value)

    # audit log
    def append_events(self, new_events: Iterable[OrderEvent]) -> int:
        with self.transaction() as con:
            return events.append(con, new_events)

    def events_for(self, shopify_order_id: str) -> list[dict[str, Any]]:
        with self.transaction() as con:
            return events.for_order(con, shopify_order_id)

    # exceptions
    def open_exceptions(self, records: Iterable[ExceptionRecord]) -> int:
        with self.transaction() as con:
            return exceptions.open_or_touch(con, records)

    def list_open_exceptions(self, kind: str | None = None) -> list[OpenException]:
        with self.transaction() as con:
            return exceptions.list_open(con, kind)

    # figures for asset metadata
    def row_counts(self) -> dict[str, int]:
        with self.transaction() as con:
            return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in LEDGER_TABLES}  # type: ignore[index]
