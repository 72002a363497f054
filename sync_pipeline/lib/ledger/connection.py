"""Short-lived DuckDB connections with bounded retry on cross-process lock conflicts.

DuckDB allows one writing process per file, and even a read-only holder blocks writers. So no
connection outlives one transaction: `transaction()` opens the file, runs the block in
BEGIN/COMMIT and closes it. A conflicting lock is retried with exponential backoff and jitter
up to `busy_timeout` seconds, then `LedgerBusyError` names the file and how long we waited.
Callers must do their network calls before or after the block, never inside it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# A transaction held longer than this is almost certainly doing I/O it should not.
SLOW_TRANSACTION_SECONDS = 5.0


class LedgerBusyError(RuntimeError):
    """The ledger file stayed locked by another process for longer than the retry bound."""


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


def open_with_retry(
    path: Path, busy_timeout: float, base_delay: float = 0.01, max_delay: float = 0.5
) -> duckdb.DuckDBPyConnection:
    """Open `path` read-write, retrying lock conflicts until `busy_timeout` seconds have passed."""
    deadline = time.monotonic() + busy_timeout
    attempt = 0
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            if not _is_lock_conflict(error):
                raise
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerBusyError(
                    f"ledger {path} stayed locked by another process for {busy_timeout:.0f}s "
                    f"({attempt} attempts); is a notebook or BI tool holding it open? ({error})"
                ) from error
            delay = min(max_delay, base_delay * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.5)
            time.sleep(min(delay, remaining))


class LedgerConnection:
    """Opens one transaction at a time; thread-safe within a process (DuckDB is per-process)."""

    def __init__(self, path: Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        # Two threads of one process must not each open the file: DuckDB would hand out a second
        # handle to the same database instance and the lock would not serialise them.
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT on a fresh connection; ROLLBACK on error; always closed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            started = time.monotonic()
            con = open_with_retry(self.path, self.busy_timeout)
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()
                held = time.monotonic() - started
                if held > SLOW_TRANSACTION_SECONDS:
                    log.warning("ledger transaction held %s for %.1fs", self.path.name, held)
