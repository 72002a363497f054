"""Many rows into DuckDB at once: staged under a name, then one INSERT … SELECT (or UPDATE … FROM).

`executemany` sends rows one by one (a full stock snapshot is 100,000 rows: tens of seconds);
a registered frame is read in bulk, so the transaction stays short. Building that frame costs
pandas ~10-20 ms whatever its size (the `astype` above all), which for the few dozen rows of a
fulfil wave was most of a statement (session 11: a fifth of the fulfil step's ledger thread). So up
to `SMALL_ROWS` rows of plain values go in as one typed list a column, unnested into a temporary
table (a third of the time at a wave's size); past that, pandas is faster and takes them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import duckdb

from sync_pipeline.lib.ledger.records import to_naive_utc

# Column types as pandas dtypes: nullable integers, so a NULL stays NULL instead of a float NaN.
INT, BIGINT, TEXT, BOOL, TIME = "Int32", "Int64", "object", "boolean", "datetime64[us]"

# Up to this many rows, lists beat a frame (measured: 5-300 rows ×2-3 faster; 5,000 slower).
SMALL_ROWS = 1000
# Each kind as SQL, with the Python values the list path takes as they are (anything else, a
# Decimal in a TEXT column say, goes the pandas way, which converts it as it always has).
_AS_SQL: dict[str, tuple[str, type | tuple[type, ...]]] = {
    INT: ("INTEGER", int),
    BIGINT: ("BIGINT", int),
    TEXT: ("VARCHAR", str),
    BOOL: ("BOOLEAN", bool),
    TIME: ("TIMESTAMP", datetime),
}


@contextmanager
def staged(
    con: duckdb.DuckDBPyConnection, name: str, columns: Mapping[str, str], rows: Sequence[Sequence[Any]]
) -> Iterator[str]:
    """Register `rows` as a view called `name` for the duration of the block."""
    names = list(columns)
    # Column by column: a full reconcile stages 100,000 rows, and converting row by row (a tuple
    # per row, a check per value) cost seconds of the ledger's lock.
    values = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    if len(values) != len(names):
        raise ValueError(f"{name}: rows have {len(values)} values, columns are {names}")
    cells_by_column: list[list[Any]] = []
    for kind, cells in zip(columns.values(), values, strict=True):
        if kind == TIME:  # TIMESTAMP columns hold naive UTC; most rows share a few instants
            seen: dict[Any, Any] = {}
            cells = [seen[v] if v in seen else seen.setdefault(v, to_naive_utc(v)) for v in cells]
        cells_by_column.append(list(cells))
    if len(rows) <= SMALL_ROWS and _plain(columns, cells_by_column):
        with _as_lists(con, name, columns, cells_by_column):
            yield name
        return
    # Imported here, not at the top: every run worker imports the ledger, and pandas with numpy was
    # 4.7 % of the run workers' CPU at a peak (session 16's rehearsal profile), paid by runs that
    # stage only small waves (status, stock, releases) or nothing. The price: a process's first
    # frame of more than `SMALL_ROWS` rows imports it (~0.4 s) inside that transaction, once; such
    # a staging (a full stock snapshot, a backfill's orders) holds the ledger for seconds anyway.
    import pandas as pd

    data = {
        column: pd.Series(cells, dtype=object) for column, cells in zip(names, cells_by_column, strict=True)
    }
    frame = pd.DataFrame(data, columns=names)
    frame = frame.astype(dict(columns)) if len(frame) else frame.astype(dict(columns), errors="ignore")
    # DuckDB refuses to register while an earlier statement's result is unread: run (and read) a
    # trivial one first, which also finishes whatever came before.
    con.execute("SELECT 1").fetchall()
    con.register(name, frame)
    try:
        yield name
    finally:
        con.unregister(name)


def _plain(columns: Mapping[str, str], cells_by_column: list[list[Any]]) -> bool:
    """Every column of a known kind and every value of it plain (or None)."""
    for kind, cells in zip(columns.values(), cells_by_column, strict=True):
        known = _AS_SQL.get(kind)
        if known is None or not all(v is None or isinstance(v, known[1]) for v in cells):
            return False
        if kind in (INT, BIGINT) and any(isinstance(v, bool) for v in cells):
            return False  # a bool in an integer column: pandas' conversion decides, as before
    return True


@contextmanager
def _as_lists(
    con: duckdb.DuckDBPyConnection, name: str, columns: Mapping[str, str], cells_by_column: list[list[Any]]
) -> Iterator[None]:
    """A temporary table `name` from one typed list a column (unnested side by side: the lists
    are as long as each other, so row i of the table is row i of every list). Dropped after the
    block; a block that failed leaves it to the connection's close (the transaction is aborted,
    so a DROP would fail and hide the error), and `OR REPLACE` covers a caller that went on."""
    selected = ", ".join(f'unnest(?::{_AS_SQL[kind][0]}[]) AS "{column}"' for column, kind in columns.items())
    con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS SELECT {selected}", cells_by_column)
    yield
    con.execute(f"DROP TABLE temp.{name}")
