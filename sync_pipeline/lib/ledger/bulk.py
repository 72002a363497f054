"""Many rows into DuckDB at once: a typed DataFrame registered as a view, then one INSERT … SELECT.

`executemany` sends rows one by one (a full stock snapshot is 100,000 rows: tens of seconds);
a registered frame is read in bulk, so the transaction stays short.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import pandas as pd

from sync_pipeline.lib.ledger.records import to_naive_utc

# Column types as pandas dtypes: nullable integers, so a NULL stays NULL instead of a float NaN.
INT, BIGINT, TEXT, BOOL, TIME = "Int32", "Int64", "object", "boolean", "datetime64[us]"


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
    data: dict[str, Any] = {}
    for column, kind, cells in zip(names, columns.values(), values, strict=True):
        if kind == TIME:  # TIMESTAMP columns hold naive UTC; most rows share a few instants
            seen: dict[Any, Any] = {}
            cells = [seen[v] if v in seen else seen.setdefault(v, to_naive_utc(v)) for v in cells]
        data[column] = pd.Series(list(cells), dtype=object)
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
