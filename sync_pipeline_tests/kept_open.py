"""A ledger's DuckDB database kept open for a test whose every ledger transaction is its own.

The ledger opens the file afresh for each transaction (`lib/ledger/connection.py`), so no caller
holds it across a network call and other processes can open it in between. With no connection to
the file open, each of those opens starts a DuckDB database afresh: about 30 ms of CPU in DuckDB
2.0.1 (it builds its whole function catalogue), most of what an in-process test's ledger costs.
While one connection stays open, each transaction's connection joins that database instead.

Only for tests that open the ledger in this process alone: the open database holds the file's
lock, so another process (a run worker, a killed subprocess, a lock test) could not open it.
What the fresh opens themselves must do is proven by the ledger's own tests
(`ledger/test_concurrency.py`, `ledger/test_short_locks.py`) and every end-to-end test, which
keep nothing open.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb


@contextmanager
def ledger_kept_open(path: Path) -> Iterator[None]:
    """Keep the database at `path` (created empty if missing; the ledger migrates it) open."""
    con = duckdb.connect(str(path))
    try:
        yield
    finally:
        con.close()
