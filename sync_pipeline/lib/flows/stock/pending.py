"""Ledger writes that wait for the run's next transaction.

Opening the ledger costs tens of milliseconds (a tenth of a second on a busy host), and a full
reconcile sends dozens of requests: writing each answer, and each fresh read of Shopify, in a
transaction of its own cost more than the requests. So they queue here and go with the next
transaction the run opens anyway (the next batch's write-ahead, or its last one). A crash before
they are written loses nothing the next run cannot learn again: rows left `sending` are read back
(`in_doubt.py`), levels are read again.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from sync_pipeline.lib.ledger import Ledger

LedgerWrite = Callable[[duckdb.DuckDBPyConnection], None]


class PendingWrites:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.waiting: list[LedgerWrite] = []

    def add(self, write: LedgerWrite) -> None:
        self.waiting.append(write)

    def write(self, con: duckdb.DuckDBPyConnection) -> None:
        """In the caller's transaction, in the order they were added."""
        waiting, self.waiting = self.waiting, []
        for write in waiting:
            write(con)

    def flush(self) -> None:
        if self.waiting:
            with self.ledger.transaction() as con:
                self.write(con)
