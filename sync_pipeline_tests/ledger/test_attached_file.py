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


# A program (not pytest, which would catch the child's exit) whose writer thread has committed and
# not yet detached when the main thread forks; the child then exits as programs do, the parent goes on.
_FORK_BETWEEN_COMMIT_AND_DETACH = """
import os, sys, threading, time
from sync_pipeline.lib.ledger import Ledger, connection
ledger = Ledger(sys.argv[1])
ledger.migrate()
detach, committed = connection._ATTACHED.detach, threading.Event()
def detach_later(name):
    if threading.current_thread().name == "writer":
        committed.set()
        time.sleep(1.5)  # the fork happens here
    detach(name)
connection._ATTACHED.detach = detach_later
def writer():
    with ledger.transaction() as con:
        con.execute("INSERT INTO sync_cursors SELECT 'p' || i, 'parent', now() FROM range(3000) t(i)")
thread = threading.Thread(target=writer, name="writer")
thread.start()
committed.wait(30)
child = os.fork()
if child == 0:
    time.sleep(3)  # the parent's later writes go in meanwhile
    sys.exit(0)  # interpreter finalisation, as a program ends
thread.join()
for i in range(20):
    ledger.set_cursor(f"after-{i}", "parent")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
"""


def test_a_child_forked_between_a_commit_and_the_detach_leaves_the_file_alone_when_it_exits(
    tmp_path: Path,
) -> None:
    """The fork copies the parent's in-memory database with the file still attached (committed, not
    yet detached). A child that exits normally finalised that copy: closing it checkpointed the
    parent's file from the child's stale image, and the parent's rows were gone (0 of 3,020)."""
    path = tmp_path / "ledger.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", _FORK_BETWEEN_COMMIT_AND_DETACH, str(path)], capture_output=True, text=True
    )
    _another_process_writes(path, "theirs")  # the file as the next process finds it
    with Ledger(path).transaction() as con:
        kept = con.execute("SELECT count(*) FROM sync_cursors WHERE value = 'parent'").fetchone()
    # The rows, then how the child ended (it crashed in DuckDB's close: -11, SIGSEGV).
    assert (kept, done.returncode) == ((3020,), 0), done.stderr[-800:]


# A program whose ledger file may not grow by more than 32 KiB (RLIMIT_FSIZE: a disk filling up).
# The commit's WAL record fits; the checkpoint the detach makes needs new blocks and fails.
_CHECKPOINT_FAILS_AFTER_THE_COMMIT = """
import os, resource, signal, sys
from sync_pipeline.lib.ledger import Ledger
ledger = Ledger(sys.argv[1])
ledger.set_cursor("before", "1")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(sys.argv[1]) + 32768, resource.RLIM_INFINITY))
try:
    with ledger.transaction() as con:
        con.execute("INSERT INTO sync_cursors SELECT 'k' || i, repeat('v', 50), now() FROM range(100) t(i)")
    print("returned")
except Exception as error:
    print("raised", type(error).__name__, error)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
ledger.set_cursor("after", "1")  # the process's next transaction
"""


def test_a_committed_transaction_whose_checkpoint_fails_at_the_detach_returns(tmp_path: Path) -> None:
    """The commit is in the WAL (the next open replays it), so the caller must not be told it failed:
    it raised "CHECKPOINT during DETACH failed", a write the caller would count as not made."""
    path = tmp_path / "ledger.duckdb"
    done = subprocess.run(
        [sys.executable, "-c", _CHECKPOINT_FAILS_AFTER_THE_COMMIT, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-800:]
    _another_process_writes(path, "theirs")  # the file as the next process finds it
    with Ledger(path).transaction() as con:
        rows = con.execute("SELECT count(*) FROM sync_cursors WHERE name LIKE 'k%'").fetchone()
    assert (done.stdout.strip(), rows, Ledger(path).get_cursor("after")) == ("returned", (100,), "1")


_SPILL = """
import os, sys
from pathlib import Path
from sync_pipeline.lib.ledger import Ledger
ledger = Ledger(sys.argv[1])
with ledger.transaction() as con:
    print(con.execute("SELECT current_setting('temp_directory')").fetchone()[0])
"""


def test_a_transaction_spills_beside_the_ledger_not_into_the_working_directory(tmp_path: Path) -> None:
    """A file database spills what outgrows memory to `<file>.tmp`; the in-memory database the file
    is attached into spilled to `.tmp` in whatever directory the process runs in (a run worker's, a
    read-only image's), where a big reconcile's sort could fail or litter."""
    path = tmp_path / "ledger.duckdb"
    elsewhere = tmp_path / "working"
    elsewhere.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", _SPILL, str(path)], capture_output=True, text=True, cwd=elsewhere
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert Path(done.stdout.strip()) == tmp_path / "ledger.duckdb.tmp"
