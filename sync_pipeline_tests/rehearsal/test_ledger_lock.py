"""How busy the ledger's lock was: real transactions record their holds, the report reads them back.

The recording side runs real ledger transactions (a real DuckDB file, two processes); the summary
side is checked against holds written by hand, with an oracle for the busiest minute.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.ledger import Ledger, OrderEvent
from sync_pipeline.lib.ledger.connection import LOCK_TIMES_ENV
from sync_pipeline.rehearsal import report
from sync_pipeline.rehearsal.accounting import Accounting
from sync_pipeline.rehearsal.ledger_lock import (
    Hold,
    busiest_window_share,
    markdown_lines,
    read_holds,
    summary,
)
from sync_pipeline.rehearsal.profile import StoreProfile


def _append_events(path: str, times: str, count: int) -> None:
    os.environ[LOCK_TIMES_ENV] = times
    ledger = Ledger(path, busy_timeout=30)
    for i in range(count):
        ledger.append_events([OrderEvent(f"order-{os.getpid()}-{i}", "paid", "test")])


def test_nothing_is_recorded_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCK_TIMES_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # a default written to the working directory would show here
    ledger = Ledger(tmp_path / "ledger.duckdb")
    ledger.migrate()
    ledger.append_events([OrderEvent("1001", "paid", "test")])
    # The ledger's own files and nothing else (a lock-times file of any name would be a new one).
    sidecars = {"ledger.duckdb", "ledger.duckdb.lock", "ledger.duckdb.waiting", "ledger.duckdb.wal"}
    assert {p.name for p in tmp_path.iterdir()} <= sidecars
    # And asked, the same transaction writes one line.
    monkeypatch.setenv(LOCK_TIMES_ENV, str(tmp_path / "times.tsv"))
    ledger.append_events([OrderEvent("1002", "paid", "test")])
    assert len((tmp_path / "times.tsv").read_text().splitlines()) == 1


@pytest.mark.timeout(120)
def test_every_process_records_its_outermost_transactions_and_the_holds_never_overlap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, times = str(tmp_path / "ledger.duckdb"), tmp_path / "lock_times.tsv"
    Ledger(path).migrate()
    monkeypatch.setenv(LOCK_TIMES_ENV, str(times))
    began = time.time()
    ledger = Ledger(path)
    with ledger.transaction(), ledger.transaction():  # nested: one hold, not two
        pass
    ctx = mp.get_context("spawn")
    workers = [ctx.Process(target=_append_events, args=(path, str(times), 15)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=90)
        assert w.exitcode == 0
    holds, unreadable = read_holds(times)
    assert unreadable == 0
    assert len(holds) == 1 + 2 * 15
    assert len({h.pid for h in holds}) == 3
    assert {h.ledger for h in holds} == {"ledger.duckdb"}
    # Named by the block's own code, not the ledger's: this test and `_append_events`.
    assert {h.caller for h in holds} == {
        "test_ledger_lock.py test_every_process_records_its_outermost_transactions_and_the_holds_never_overlap",
        "test_ledger_lock.py _append_events",
    }
    assert all(began - 1 <= h.at <= time.time() and h.held > 0 for h in holds)
    # One writer at a time across the processes: sorted by when each took the lock, none starts
    # before the one ahead of it let go (a small slack for the two clocks read a moment apart).
    ordered = sorted(holds, key=lambda h: h.at)
    assert all(b.at >= a.at + a.held - 0.002 for a, b in itertools.pairwise(ordered))


def test_a_line_cut_short_or_garbled_is_counted_not_fatal(tmp_path: Path) -> None:
    times = tmp_path / "lock_times.tsv"
    times.write_text(
        "100.0\t0.5\t0.1\t7\tledger.duckdb\tfulfil.py:192 fulfil_open_packages\n"
        "100.5\t0.25\t0.0\t8\tledger.duckdb\tfulfil.py:260 fulfil_open_packages\n"
        "101.0\tnan\t0.0\t8\tledger.duckdb\tx.py:1 f\n"
        "101.0\t-1\t0.0\t8\tledger.duckdb\tx.py:1 f\n"
        "101.5\t0.2\n"
    )
    holds, unreadable = read_holds(times)
    assert unreadable == 3
    # Line numbers dropped: one function is one row however many places in it open a transaction.
    assert [h.caller for h in holds] == ["fulfil.py fulfil_open_packages"] * 2
    assert read_holds(tmp_path / "missing.tsv") == ([], 0)


def _hold(at: float, held: float, waited: float = 0.0, caller: str = "a.py f", ledger: str = "l") -> Hold:
    return Hold(at, held, waited, 1, ledger, caller)


def test_the_summary_clips_to_the_peak_and_ranks_who_held_it() -> None:
    holds = [  # one at a time, as the lock makes them
        _hold(80.0, 25.0, caller="before.py f"),  # 5 s of it inside the peak
        _hold(105.0, 30.0, waited=2.0, caller="fulfil.py send"),
        _hold(135.0, 30.0, waited=4.0, caller="fulfil.py send"),
        _hold(170.0, 5.0, waited=1.0, caller="ingest.py bodies"),
        _hold(400.0, 5.0, caller="after.py f"),  # after the peak: not counted
    ]
    s = summary(holds, 100.0, 220.0)
    f = s["files"]["l"]
    assert f["transactions"] == 4
    assert f["held_s"] == 70.0
    assert s["held_share"] == f["held_share"] == round(70 / 120, 3)
    # The minute [100, 160) was held 5 + 30 + 25 s, all of it; [160, 220) 5 + 5 s.
    assert s["busiest_minute_held_share"] == 1.0
    assert [c["caller"] for c in f["by_caller"]] == ["fulfil.py send", "before.py f", "ingest.py bodies"]
    assert f["by_caller"][0] == {
        "caller": "fulfil.py send", "transactions": 2, "held_s": 60.0, "share_of_held": round(60 / 90, 3),
        "mean_held_ms": 30000.0, "wait_p95_s": 4.0,
    }  # fmt: skip
    assert f["wait_s"] == {"p50": 1.0, "p95": 4.0, "max": 4.0, "total": 7.0}
    assert summary([], 0.0, 10.0)["held_share"] is None
    # A peak of no length says nothing, for any number of files, rather than failing.
    two = [_hold(5.0, 1.0, ledger="a"), _hold(5.0, 1.0, ledger="b")]
    assert summary(two, 5.0, 5.0)["held_share"] is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 300), st.floats(0.001, 40)).map(lambda t: _hold(*t)), max_size=30),
    st.floats(60, 400),
)
def test_the_busiest_minute_is_the_held_share_of_the_fullest_whole_minute(
    holds: list[Hold], span: float
) -> None:
    # Oracle: held seconds per whole minute, one hold and one second-fraction at a time.
    minutes = int(span // 60)
    held = [
        sum(max(0.0, min(h.at + h.held, 60 * (m + 1)) - max(h.at, 60 * m)) for h in holds)
        for m in range(minutes)
    ]
    assert busiest_window_share(holds, 0.0, span) == pytest.approx(max(held) / 60, abs=1e-9)


def test_the_report_puts_the_ledger_beside_the_other_shared_ceilings() -> None:
    ledger = summary(
        [_hold(0.0, 90.0, caller="fulfil.py send"), _hold(95.0, 4.0, caller="ingest.py x")], 0.0, 100.0
    )
    f = report.figures(
        StoreProfile(),
        owed_numbers=set(), timings=[], packages={}, fulfilled_at={}, stock_latencies=[], stock_unseen=0,
        shop_stats={"requests": 10, "points_spent": 500}, shop_before={}, pvx_counters={}, pvx_before={},
        peak_seconds=100.0, runs={}, accounting=Accounting(), oversell={}, sale={}, faults=[], load_average=[1.0],
        drained=True, cpu={"busy_share": 0.8, "capacity_core_s": 200.0, "window_s": 100.0, "cpus": 2,
                           "busy_core_s": 160.0, "by_role": {}, "other_core_s": 0.0, "product_core_s": 450.0,
                           "stand_ins_core_s": 60.0}, ledger=ledger,
    )  # fmt: skip
    # The product's 450 core-s over the default 5-minute sale: 1.5 cores to keep pace with it.
    assert f["cpu"]["product_cores_to_keep_pace"] == 1.5
    assert "the product's work would take **1.5 cores** for the sale's 300 s" in report.markdown(f, "x")
    assert f["limits"]["used"]["Ledger (lock held ÷ peak)"] == 0.94
    assert f["limits"]["nearest"] == "Ledger (lock held ÷ peak)"
    text = report.markdown(f, "sync-pipeline rehearse")
    assert "Ledger lock (l): held 0.94 of the peak (busiest minute 1.0) by 2 transactions" in text
    assert "| fulfil.py send | 1 | 90.0 s | 95.7% | 90000.0 ms | 0.0 s |" in text
    assert markdown_lines({}) == ["Ledger lock: not recorded."]


def test_a_hold_ends_when_the_lock_is_let_go_not_when_its_holder_next_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a saturated machine the thread that let the lock go may wait for a core before it reads
    the clock; another process holds the lock meanwhile, and counting that wait as ours would
    make holds overlap and the held share of the peak come out above what it was."""
    from sync_pipeline.lib.ledger import connection

    times = tmp_path / "lock_times.tsv"
    monkeypatch.setenv(LOCK_TIMES_ENV, str(times))
    real_release = connection._ProcessFileLock.release

    def release_then_lose_the_core(self: connection._ProcessFileLock) -> None:
        real_release(self)
        time.sleep(1.0)

    monkeypatch.setattr(connection._ProcessFileLock, "release", release_then_lose_the_core)
    began = time.monotonic()
    with Ledger(tmp_path / "ledger.duckdb").transaction():
        pass
    took = time.monotonic() - began
    [hold], _ = read_holds(times)
    assert hold.held <= took - 1.0


def test_a_caller_or_file_name_with_a_tab_or_a_line_break_stays_one_readable_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    times = tmp_path / "lock_times.tsv"
    monkeypatch.setenv(LOCK_TIMES_ENV, str(times))
    code = compile(
        "def odd(ledger):\n    with ledger.transaction():\n        pass\n", "odd\tname\nhere.py", "exec"
    )
    namespace: dict[str, object] = {}
    exec(code, namespace)
    namespace["odd"](Ledger(tmp_path / "led\u2028ger.duckdb"))  # type: ignore[operator]
    holds, unreadable = read_holds(times)
    assert unreadable == 0 and len(holds) == 1
    assert (holds[0].ledger, holds[0].caller) == ("led ger.duckdb", "odd name here.py odd")


def test_a_lock_times_target_nobody_reads_never_holds_up_a_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pointed at a pipe (a FIFO, or /dev/stderr piped to a reader that stopped reading), opening
    or writing it would wait for a reader: the line is dropped instead, as for any other failure."""
    import threading

    fifo = tmp_path / "lock_times.fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv(LOCK_TIMES_ENV, str(fifo))
    ledger = Ledger(tmp_path / "ledger.duckdb")
    done = threading.Event()

    def commit() -> None:
        with ledger.transaction():
            pass
        done.set()

    worker = threading.Thread(target=commit, daemon=True)
    worker.start()
    finished = done.wait(20)
    if not finished:  # let the stuck open go, so the test process can end
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
    assert finished
