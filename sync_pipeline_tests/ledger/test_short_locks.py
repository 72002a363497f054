"""The ledger's lock is held briefly by the orders hot path, whatever the batch size.

Under the 1,500-a-minute rehearsal (load 37) four runs failed with `LedgerBusyError` after waiting
60 s: an ingest chunk (250 orders), a release write-ahead and a release's verdicts (a 1,000-order
wave) each wrote row by row, several statements per order, holding the lock for seconds at a
quiet moment and tens of seconds under load. They now write in bulk: the number of statements in
one transaction does not grow with the orders in it, and another run's transaction gets through
while a wave is recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.ledger import Ledger, LedgerBusyError, connection
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World


class _Counting:
    """A connection that counts the statements run through it (executemany: one per row)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con
        self.statements = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        self.statements += 1
        return self._con.execute(*args, **kwargs)

    def executemany(self, sql: str, rows: list[Any]) -> Any:
        self.statements += len(rows)
        return self._con.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class CountingLedger(Ledger):
    """Records the statements of each transaction, largest first when asked."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.per_transaction: list[int] = []

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().transaction() as con:
            counting = _Counting(con)
            yield counting  # type: ignore[misc]
        self.per_transaction.append(counting.statements)


def _largest_transaction(tmp_path: Path, orders: int) -> int:
    world = World(tmp_path, T0)
    world.ledger = CountingLedger(tmp_path / "counted.duckdb")
    world.know_item_types("TEE-BLK-M", "CAP-BLK-OS")
    for _ in range(orders):
        world.shop.place([("TEE-BLK-M", 1), ("CAP-BLK-OS", 2)])
    world.ingest()  # one chunk: an ingest's record_orders
    world.tick(world.rules.orders.hold_window_seconds + 1)
    report = release(world.shop, world.pvx, world.ledger, world.rules, "release", world.now, max_seconds=60)
    assert report.injected == orders
    return max(world.ledger.per_transaction)  # type: ignore[attr-defined]


def test_statements_per_transaction_do_not_grow_with_the_orders_in_it(tmp_path: Path) -> None:
    few = _largest_transaction(tmp_path / "few", 5)
    many = _largest_transaction(tmp_path / "many", 60)
    # Row by row, 60 orders took over 400 statements in one transaction (5 orders: about 40).
    assert many == few, (few, many)


def _held_recheck(tmp_path: Path, orders: int) -> list[int]:
    """Statements in each transaction of a release run re-checking `orders` held orders."""
    world = World(tmp_path, T0)
    for _ in range(orders):
        world.shop.place([("TEE-RED-XXL", 1), ("CAP-BLK-OS", 1)])  # an item Peoplevox does not have
    assert world.release_due().held == orders
    world.ledger = CountingLedger(tmp_path / "ledger.duckdb")
    world.tick(60)
    assert world.release().held == 0  # re-checked, still held: the same exceptions seen again
    assert {e.occurrences for e in world.ledger.list_open_exceptions("unmapped_sku")} == {2}
    return world.ledger.per_transaction  # type: ignore[attr-defined]


def test_held_orders_are_rechecked_in_bulk(tmp_path: Path) -> None:
    # Row by row, each held order re-checked was four statements (its state, its exceptions
    # closed, its exception looked up and touched): 200 of them every run.
    assert _held_recheck(tmp_path / "few", 3) == _held_recheck(tmp_path / "many", 30)


def _status_run(tmp_path: Path, orders: int) -> list[int]:
    """Statements in each transaction of a status run that finds `orders` orders allocated and
    one cancelled by the warehouse."""
    world = World(tmp_path, T0, hold_seconds=30)
    oids = [world.shop.place([("TEE-BLK-M", 1)]) for _ in range(orders + 1)]
    world.release_due()
    with world.ledger.transaction() as con:
        rows = ledger_orders.get_many(con, oids)
    numbers = [rows[oid].sales_order_number or "" for oid in oids]
    for number in numbers[:orders]:
        world.pvx.progress(number, "Allocated")
    world.pvx.cancel_by_hand(numbers[orders])
    world.ledger = counted = CountingLedger(tmp_path / "ledger.duckdb")
    assert world.statuses().changed == orders + 1
    statements = list(counted.per_transaction)
    assert world.row(oids[orders]).state == state.CANCELLED_BY_WAREHOUSE
    return statements


def test_a_status_run_writes_what_it_read_in_bulk(tmp_path: Path) -> None:
    # Row by row, each changed status was a statement of its own (1,000-order report pages).
    few, many = _status_run(tmp_path / "few", 3), _status_run(tmp_path / "many", 40)
    assert many == few, (few, many)
    # Each transaction queues for the ledger's lock (behind a despatch run's, seconds at a peak)
    # while the step holds `peoplevox_orders`: the cursors, what the report read found (with its
    # marks and both cursors), the poll's selection. It was nine.
    assert len(few) == 3, few


def test_a_release_pass_reads_what_it_releases_with_its_ids(tmp_path: Path) -> None:
    world = World(tmp_path, T0)
    world.know_item_types("TEE-BLK-M")
    for _ in range(5):
        world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.ledger = CountingLedger(tmp_path / "ledger.duckdb")
    assert world.release().injected == 5
    # In doubt; the pass's ids with their rows; the re-read's record and its rows; intent;
    # verdicts; the next pass's ids (none); changes. The re-read no longer reads the rows the pass
    # has just read in a transaction of its own (nine before).
    assert len(world.ledger.per_transaction) == 8, world.ledger.per_transaction  # type: ignore[attr-defined]


def test_another_run_gets_through_while_a_wave_is_recorded(tmp_path: Path) -> None:
    """A second user of the ledger with a short busy timeout keeps writing while 400 orders are
    ingested and released (a full wave); row by row its transactions waited past the timeout."""
    world = World(tmp_path, T0)
    for _ in range(400):
        world.shop.place([("TEE-BLK-M", 1), ("CAP-BLK-OS", 2)])
    other = Ledger(tmp_path / "ledger.duckdb", busy_timeout=4.0)
    failures: list[Exception] = []
    done = threading.Event()

    def another_run() -> None:
        while not done.is_set():
            try:
                other.set_cursor("another_run", str(time.time()))
            except LedgerBusyError as error:
                failures.append(error)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=another_run)
    thread.start()
    try:
        world.release_due()
    finally:
        done.set()
        thread.join()
    assert failures == []
    assert len(world.pvx.holds()) == 400


def test_a_slow_transaction_is_logged_with_its_hold_its_wait_and_its_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connection, "SLOW_TRANSACTION_SECONDS", 0.0)
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with caplog.at_level(logging.WARNING, logger=connection.__name__):
        ledger.set_cursor("x", "1")
    [message] = [r.getMessage() for r in caplog.records]
    assert "held" in message and "after waiting" in message
    assert "test_short_locks.py" in message and "test_a_slow_transaction" in message  # the caller
