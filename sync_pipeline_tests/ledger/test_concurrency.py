"""Several processes write and read the ledger at once: no write lost, no lock error escapes.

This is the proof behind design decision 4 (DuckDB is single-writer across processes): runs,
the receiver's readers and the CLI all open the file briefly, and lock conflicts are retried
with backoff up to a bound.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

import duckdb
import pytest

from sync_pipeline.lib.ledger import Ledger, LedgerBusyError, OrderEvent

WRITERS = 4
SECONDS = 3.0


def _writer(path: str, worker: int, seconds: float, results: mp.Queue) -> None:
    ledger = Ledger(path, busy_timeout=30)
    written = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ledger.append_events(
                [
                    OrderEvent(f"order-{worker}-{written}", "paid", f"writer-{worker}", reason=str(i))
                    for i in range(3)
                ]
            )
            written += 1
            ledger.set_cursor(f"writer-{worker}", str(written))
        results.put(("ok", worker, written))
    except Exception as error:  # reported to the parent, which fails the test
        results.put(("error", worker, repr(error)))


def _reader(path: str, seconds: float, results: mp.Queue) -> None:
    ledger = Ledger(path, busy_timeout=30)
    reads = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ledger.row_counts()
            reads += 1
        results.put(("ok", "reader", reads))
    except Exception as error:
        results.put(("error", "reader", repr(error)))


@pytest.mark.timeout(120)
def test_concurrent_processes_lose_no_write(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.duckdb")
    Ledger(path).migrate()
    ctx = mp.get_context("spawn")
    results: mp.Queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(path, w, SECONDS, results)) for w in range(WRITERS)]
    procs.append(ctx.Process(target=_reader, args=(path, SECONDS, results)))
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)

    errors = [o for o in outcomes if o[0] == "error"]
    assert not errors, f"a process saw an error: {errors}"
    written = {o[1]: o[2] for o in outcomes if o[1] != "reader"}
    assert all(n > 0 for n in written.values()), f"a writer never got the lock: {written}"

    ledger = Ledger(path)
    with ledger.transaction() as con:
        per_writer = dict(con.execute("SELECT actor, count(*) FROM order_events GROUP BY actor").fetchall())
    assert per_writer == {f"writer-{w}": 3 * n for w, n in written.items()}
    for worker, n in written.items():
        assert ledger.get_cursor(f"writer-{worker}") == str(n)


def _hold_lock(path: str, seconds: float, ready: mp.Event) -> None:
    con = duckdb.connect(path)
    ready.set()
    time.sleep(seconds)
    con.close()


def test_lock_held_too_long_fails_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    Ledger(path).migrate()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(path), 6.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        started = time.monotonic()
        with pytest.raises(LedgerBusyError, match=r"stayed locked by another process for 1s"):
            Ledger(path, busy_timeout=1.0).get_cursor("x")
        assert 0.9 < time.monotonic() - started < 5
    finally:
        holder.join(timeout=30)
    # Once the holder lets go, the same call succeeds.
    assert Ledger(path, busy_timeout=5).get_cursor("x") is None


def _hold_sidecar_lock(path: str, seconds: float, ready: mp.Event) -> None:
    """Another of our processes mid-transaction: it holds the ledger's advisory lock."""
    ledger = Ledger(path)
    with ledger.transaction():
        ready.set()
        time.sleep(seconds)


def test_our_other_process_mid_transaction_is_waited_for_then_named(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    Ledger(path).migrate()
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_sidecar_lock, args=(str(path), 6.0, ready))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(
            LedgerBusyError, match=r"stayed locked by another process for 1s.*ledger.duckdb.lock held"
        ):
            Ledger(path, busy_timeout=1.0).get_cursor("x")
        # A patient caller waits for the holder's commit instead of failing.
        assert Ledger(path, busy_timeout=30).get_cursor("x") is None
    finally:
        holder.join(timeout=30)


def test_a_second_ledger_on_the_same_file_inside_a_transaction_does_not_wait_on_itself(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.duckdb"
    outer, inner = Ledger(path, busy_timeout=2), Ledger(path, busy_timeout=2)
    outer.migrate()
    started = time.monotonic()
    with outer.transaction():
        inner.set_cursor("nested", "1")
    assert time.monotonic() - started < 1.5
    assert outer.get_cursor("nested") == "1"
