"""A ledger transaction attaches the file into the process's one in-memory DuckDB database and
detaches it after the commit, instead of building a DuckDB database each time (`duckdb.connect`:
~30 ms of CPU, a third of the fulfil step's ledger thread in session 11). What must not change:
between transactions the file is closed (another process opens it), a failed transaction closes
it too, and a forked child opens it with a database of its own."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sync_pipeline.lib.ledger import Ledger, connection


def _another_process_writes(path: Path, cursor: str) -> None:
    """A separate interpreter opens the file itself (DuckDB's own lock: it fails if we hold it)."""
    script = (
        "import duckdb, sys; con = duckdb.connect(sys.argv[1]); "
        "con.execute(\"INSERT INTO sync_cursors VALUES (?, 'theirs', now())\", [sys.argv[2]]); con.close()"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path), cursor], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]


def test_transactions_build_no_duckdb_database_of_their_own_and_leave_the_file_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    ledger.migrate()
    opened: list[str] = []
    connect = duckdb.connect

    def counted_connect(database: str = ":memory:", *args: object, **kwargs: object) -> object:
        opened.append(str(database))
        return connect(database, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connection.duckdb, "connect", counted_connect)
    for i in range(10):
        ledger.set_cursor(f"ours-{i}", str(i))
        _another_process_writes(path, f"theirs-{i}")  # between two of ours: the file is closed
    # At most the process's in-memory database, once (fresh connections: one a transaction).
    assert [d for d in opened if d != ":memory:"] == [] and len(opened) <= 1, opened
    for i in range(10):
        assert ledger.get_cursor(f"ours-{i}") == str(i)
        assert ledger.get_cursor(f"theirs-{i}") == "theirs"


def test_a_failed_transaction_rolls_back_and_closes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    ledger.set_cursor("kept", "1")
    with pytest.raises(duckdb.ConstraintException), ledger.transaction() as con:
        con.execute("INSERT INTO sync_cursors VALUES ('lost', '2', now())")
        con.execute("INSERT INTO sync_cursors VALUES ('kept', '3', now())")  # the key is taken
    _another_process_writes(path, "theirs")
    assert (ledger.get_cursor("kept"), ledger.get_cursor("lost"), ledger.get_cursor("theirs")) == (
        "1",
        None,
        "theirs",
    )


def _child_sets_cursor(path: str, done: mp.Queue) -> None:
    try:
        Ledger(path).set_cursor("child", "forked")
        done.put("ok")
    except Exception as error:  # reported to the parent, which fails the test
        done.put(repr(error))


def test_a_forked_child_opens_the_ledger_with_a_database_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "ledger.duckdb"
    ledger = Ledger(path)
    ledger.set_cursor("parent", "before")  # the parent's in-memory database exists before the fork
    ctx = mp.get_context("fork")
    done: mp.Queue = ctx.Queue()
    child = ctx.Process(target=_child_sets_cursor, args=(str(path), done))
    child.start()
    child.join(60)
    assert child.exitcode == 0 and done.get(timeout=5) == "ok"
    ledger.set_cursor("parent", "after")
    assert (ledger.get_cursor("child"), ledger.get_cursor("parent")) == ("forked", "after")
