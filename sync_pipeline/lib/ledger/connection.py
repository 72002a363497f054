"""Short-lived DuckDB connections with bounded retry on cross-process lock conflicts.

DuckDB allows one writing process per file, and even a read-only holder blocks writers. So no
connection outlives one transaction: `transaction()` opens the file, runs the block in
BEGIN/COMMIT and closes it. A conflicting lock is retried with exponential backoff and jitter
up to `busy_timeout` seconds, then `LedgerBusyError` names the file and how long we waited.
Callers must do their network calls before or after the block, never inside it.

Our own processes also take an advisory `flock` on `<ledger>.lock` around the whole
open … close. DuckDB's file lock alone was not enough: with five processes opening and closing
the file in a tight loop, one commit failed with "Could not read enough bytes from file" (CI,
DuckDB 2.0.1): a process had the file open while another's close-time checkpoint shrank it. The
sidecar lock means none of our processes touches the database file while another holds it; a
foreign holder (a notebook, a BI tool) is still met by DuckDB's own lock and the retry below.

"Opens the file" is an `ATTACH` into one in-memory DuckDB database a process keeps, and the
`DETACH` after the commit closes the file again (releasing DuckDB's lock and checkpointing, as a
closed connection did). `duckdb.connect(path)` built a whole database instance each time, its
function catalogue included: ~30 ms of CPU in DuckDB 2.0.1 whatever the file, most of what a short
transaction cost (session 11: the fulfil step's ledger thread spent a third of its time there);
an attach and detach is ~8 ms. If this process already has the file open through a connection of
its own (a test keeping it open), DuckDB refuses a second instance on the file and we join that
one with `duckdb.connect`, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

# A transaction held longer than this is almost certainly doing I/O it should not.
SLOW_TRANSACTION_SECONDS = 5.0
# When set (the rehearsal sets it for every process it starts), each outermost transaction appends
# one line to this file: when it took the ledger's lock (wall clock), how long it held it, how long
# it waited for it, the process, the ledger file and the code whose block it was
# (`rehearsal/ledger_lock.py` reads it). The lock serialises every writer of the file across all
# our processes, so the held times add up to how busy the ledger was: whether it binds at a peak.
# Unset, as in production, nothing is written.
LOCK_TIMES_ENV = "SYNC_LEDGER_LOCK_TIMES"


class LedgerBusyError(RuntimeError):
    """The ledger file stayed locked by another process for longer than the retry bound."""


def _is_lock_conflict(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text


def _backoff(attempt: int, base_delay: float, max_delay: float) -> float:
    return min(max_delay, base_delay * 2 ** min(attempt, 10)) * random.uniform(0.5, 1.5)


def _busy(path: Path, busy_timeout: float, attempts: int, why: object) -> LedgerBusyError:
    return LedgerBusyError(
        f"ledger {path} stayed locked by another process for {busy_timeout:.0f}s "
        f"({attempts} attempts); is a notebook or BI tool holding it open? ({why})"
    )


# A process waiting for another's hold looks again at least this often. It used to back off to half
# a second between looks, so a process that let go and took the lock back within milliseconds, time
# after time, kept it while the others slept: in the 500-a-minute rehearsal a stock run waited 12.8 s
# behind thirty one-order transactions in a row of a despatch run settling fulfilments in doubt.
LOOK_AGAIN_SECONDS = 0.01
# A process that lets go while others wait stays away this long before taking the lock again, so one
# of them (each looking at least every LOOK_AGAIN_SECONDS) has the next turn.
GIVE_WAY_SECONDS = 0.03


class _ProcessFileLock:
    """The advisory lock on `<ledger>.lock`, one per ledger file per process.

    Re-entrant: a thread already inside (a nested transaction, or a second `Ledger` on the same
    file) goes straight through, because `flock` on a second descriptor of this process would
    wait on ourselves. Threads of one process queue on the thread lock first.

    Taking turns across processes: a process that has to wait holds a shared `flock` on
    `<ledger>.waiting` while it does; a holder that finds that file locked as it lets go gives way
    for `GIVE_WAY_SECONDS` before its next hold (flock itself grants no order: without this, a
    process that takes the ledger back to back starves every other).
    """

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(path.name + ".lock")
        self.waiting_path = path.with_name(path.name + ".waiting")
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._waiting_fd: int | None = None  # held (shared) while this process waits
        self._probe_fd: int | None = None  # to ask, as it lets go, whether others wait
        self._give_way_until = 0.0

    def acquire(self, ledger: Path, busy_timeout: float, deadline: float) -> None:
        if not self._threads.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise _busy(ledger, busy_timeout, 1, "another thread of this process held it")
        try:
            if self._depth == 0:
                self._lock_file(ledger, busy_timeout, deadline)
            self._depth += 1
        except BaseException:
            # Whatever stopped it (the deadline, an interruption just after the flock was taken),
            # nothing of the attempt may stay open: a descriptor holding the flock would hold the
            # ledger against every process, this one included, for as long as this one lives.
            try:
                if self._depth == 0:
                    self._let_go()
            finally:
                self._threads.release()
            raise

    @property
    def outermost(self) -> bool:
        """Whether the holder took the lock itself rather than going through as a nested holder."""
        return self._depth == 1

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                others = False
                try:
                    others = self._others_waiting()
                finally:
                    self._let_go()  # even when the question was interrupted
                if others:
                    self._give_way_until = time.monotonic() + GIVE_WAY_SECONDS
        finally:
            self._threads.release()

    def _let_go(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def _lock_file(self, ledger: Path, busy_timeout: float, deadline: float) -> None:
        """Take the flock through `self._fd`: kept there from the open on, not in a local, so a
        child forked while this thread waits closes its copy (`forget`; kept, the copy would share
        the flock the parent takes through it, and the parent's close would not let go), and
        `acquire` closes it whatever interrupts this."""
        # A descriptor still here is stale (no thread of this process holds the ledger): an
        # interruption at the start of the cleanup that should have closed it. Opening another
        # beside it would wait on our own flock until the deadline.
        self._let_go()
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        give_way = min(self._give_way_until, deadline) - time.monotonic()
        if give_way > 0:
            time.sleep(give_way)
        attempt = 0
        try:
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return
                except BlockingIOError:
                    self._say_waiting()
                    attempt += 1
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise _busy(ledger, busy_timeout, attempt, f"{self.path.name} held") from None
                    time.sleep(min(_backoff(attempt, 0.002, LOOK_AGAIN_SECONDS), remaining))
        finally:
            self._stop_waiting()

    def _say_waiting(self) -> None:
        """Hold `<ledger>.waiting` shared while this process waits (best effort: a holder asking at
        that very moment makes this look fail; the next look tries again)."""
        if self._waiting_fd is not None:
            return
        try:
            self._waiting_fd = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        try:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            self._stop_waiting()

    def _stop_waiting(self) -> None:
        fd, self._waiting_fd = self._waiting_fd, None
        if fd is not None:
            os.close(fd)

    def _others_waiting(self) -> bool:
        """Whether another process holds `<ledger>.waiting` (this one never does while it holds the
        lock). Anything unexpected counts as nobody waiting: taking turns is a courtesy."""
        try:
            if self._probe_fd is None:
                self._probe_fd = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(self._probe_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(self._probe_fd, fcntl.LOCK_UN)
            return False
        except OSError:
            return False
        except BaseException:
            # Interrupted, perhaps holding `.waiting` exclusively: no waiter could say so again.
            fd, self._probe_fd = self._probe_fd, None
            if fd is not None:
                os.close(fd)
            raise

    def forget(self) -> None:
        """In a forked child: close our copies of the parent's descriptors, so the child holds none
        of the parent's locks (the parent's stay held until the parent closes its own)."""
        for fd in (self._fd, self._waiting_fd, self._probe_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._waiting_fd = self._probe_fd = None


_FILE_LOCKS: dict[str, _ProcessFileLock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


def _forget_inherited_locks() -> None:
    """In a forked child: drop the parent's lock state, closing our copies of its descriptors
    (the parent's flock stays held until the parent closes its own), so the child starts clean."""
    global _FILE_LOCKS_GUARD
    for lock in _FILE_LOCKS.values():
        lock.forget()
    _FILE_LOCKS.clear()
    _FILE_LOCKS_GUARD = threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_locks)


def _file_lock(path: Path) -> _ProcessFileLock:
    key = os.path.realpath(path)
    with _FILE_LOCKS_GUARD:
        lock = _FILE_LOCKS.get(key)
        if lock is None:
            lock = _FILE_LOCKS[key] = _ProcessFileLock(Path(key))
        return lock


class _Attached:
    """The process's in-memory DuckDB database, into which a transaction attaches the ledger file.

    One per process (a forked child starts its own: the parent's has threads the child lacks, so
    the child never touches it, not even to close it). Each file gets its own name in it, so
    transactions on two ledgers in two threads do not meet. A transaction nested in one on the same
    file (a second `Ledger` on it, same thread) uses the file already attached, in a connection and
    transaction of its own, as it joined the open database before; the outermost one detaches.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._database: duckdb.DuckDBPyConnection | None = None
        self._names: dict[str, str] = {}
        self.users: dict[str, int] = {}  # name → transactions using the attached file
        self._spill: dict[str, str] = {}  # the first ledger's spill directory, kept for a re-creation

    def name(self, path: Path) -> str:
        key = os.path.realpath(path)
        with self._guard:
            return self._names.setdefault(key, f"ledger_{len(self._names)}")

    def cursor(self, path: Path | None = None) -> duckdb.DuckDBPyConnection:
        """A connection to the in-memory database, made on first use. What a query cannot hold in
        memory spills beside the ledger file that made it (`<file>.tmp`, where a file database
        spills), not to `.tmp` in the process's working directory, an in-memory database's default."""
        with self._guard:
            if path is not None and not self._spill:
                self._spill = {"temp_directory": f"{os.path.realpath(path)}.tmp"}
            if self._database is None:  # first use, or closed after a failed detach: same spill place
                self._database = duckdb.connect(":memory:", config=self._spill)
            return self._database.cursor()

    def detach(self, name: str) -> None:
        """Close the file (DuckDB checkpoints it and drops its lock). Should that fail, the whole
        in-memory database is closed instead, which closes every file in it: a file left attached
        would hold the lock against our other processes for as long as this one lives.

        A failure here is logged, not raised: it comes after the COMMIT (or the ROLLBACK), which
        stands. A checkpoint that cannot be written (a full disk) leaves the commit in the WAL, which
        the next open replays, as a closed connection's failed checkpoint always did; raised, it
        told the caller a committed write had failed (or hid the error that rolled it back)."""
        try:
            with self.cursor() as con:
                con.execute(f"DETACH DATABASE IF EXISTS {name}")
        except BaseException as error:
            if isinstance(error, Exception) and not self._attached(name):  # detached, checkpoint failed
                log.warning("ledger file %s closed, its checkpoint left in the WAL: %s", name, error)
                return
            log.warning("closing the ledger file %s failed; closing the process's DuckDB: %s", name, error)
            with self._guard:
                database, self._database = self._database, None
            if database is not None:
                database.close()
            if not isinstance(error, Exception):
                raise

    def _attached(self, name: str) -> bool:
        """Whether `name` is still attached (True when that cannot be told: the safe side)."""
        try:
            with self.cursor() as con:
                found = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [name])
                return bool(found.fetchone()[0])  # type: ignore[index]
        except Exception:
            return True

    def forget_in_child(self) -> None:
        # Never closed here, not even as this process ends: its threads live in the parent, and
        # closing it checkpoints any file still attached in the copy (the fork fell between a
        # parent's commit and its detach) from this stale image: the parent's later writes were
        # lost, and the close crashed. A list kept it only until the interpreter's exit emptied
        # it; a reference no one holds keeps it for good.
        if self._database is not None:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(self._database))
        self._guard = threading.Lock()
        self._database = None
        self.users = {}
        self._spill = {}


_ATTACHED = _Attached()
os.register_at_fork(after_in_child=_ATTACHED.forget_in_child)


def _open(path: Path) -> tuple[duckdb.DuckDBPyConnection, str | None]:
    """A connection with `path` open and in use, and the name it is attached under (None: joined
    this process's own open connection to the file)."""
    name = _ATTACHED.name(path)
    con = _ATTACHED.cursor(path)
    # Only the thread holding the file's process lock gets here, so `users` needs no guard of its own.
    if not _ATTACHED.users.get(name):
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS {name}")
        except duckdb.Error as error:
            con.close()
            if "Unique file handle conflict" not in str(error):
                raise
            return duckdb.connect(str(path)), None
    _ATTACHED.users[name] = _ATTACHED.users.get(name, 0) + 1
    try:
        con.execute(f"USE {name}")
    except BaseException:
        _close(con, name)
        raise
    return con, name


def _close(con: duckdb.DuckDBPyConnection, name: str | None) -> None:
    con.close()  # rolls back what is still open
    if name is not None:
        _ATTACHED.users[name] -= 1
        if not _ATTACHED.users[name]:
            _ATTACHED.detach(name)


def open_with_retry(
    path: Path,
    busy_timeout: float,
    base_delay: float = 0.01,
    max_delay: float = 0.5,
    deadline: float | None = None,
) -> tuple[duckdb.DuckDBPyConnection, str | None]:
    """Open `path` read-write, retrying lock conflicts until `busy_timeout` seconds have passed;
    the connection and its attached name, for `_close`."""
    deadline = time.monotonic() + busy_timeout if deadline is None else deadline
    attempt = 0
    while True:
        try:
            return _open(path)
        except duckdb.IOException as error:
            if not _is_lock_conflict(error):
                raise
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _busy(path, busy_timeout, attempt, error) from error
            time.sleep(min(_backoff(attempt, base_delay, max_delay), remaining))


def _caller() -> str:
    """The first frame outside the ledger package and contextlib: the code whose block it was."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if "/lib/ledger/" not in name and not name.endswith("contextlib.py"):
            return f"{Path(name).name}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    return "unknown caller"


class LedgerConnection:
    """Opens one transaction at a time; thread-safe within a process (DuckDB is per-process)."""

    def __init__(self, path: Path, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """BEGIN … COMMIT with the file freshly opened; ROLLBACK on error; always closed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Two threads of one process must not each open the file: DuckDB would hand out a second
        # handle to the same database instance and the lock would not serialise them. The file
        # lock's thread lock covers that; its flock covers our other processes.
        lock = _file_lock(self.path)
        started = time.monotonic()
        deadline = started + self.busy_timeout
        lock.acquire(self.path, self.busy_timeout, deadline)
        locked = acquired = time.monotonic()
        outermost = lock.outermost
        try:
            con, name = open_with_retry(self.path, self.busy_timeout, deadline=deadline)
            acquired = time.monotonic()
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                _close(con, name)
        finally:
            # Read before letting go: a thread that waits for a core after the release would count
            # its wait as a hold while another process already held the lock.
            released = time.monotonic()
            lock.release()
            if outermost:
                _record_lock_time(self.path, time.time() - (time.monotonic() - locked), locked - started,
                                  released - locked)  # fmt: skip
            held, waited = time.monotonic() - acquired, acquired - started
            if held > SLOW_TRANSACTION_SECONDS or waited > SLOW_TRANSACTION_SECONDS:
                # Waiting and holding apart, and where: a figure with waits in it sent session 6's
                # diagnosis after the waiters instead of the holder.
                log.warning(
                    "ledger transaction on %s held %.1fs after waiting %.1fs (%s)",
                    self.path.name,
                    held,
                    waited,
                    _caller(),
                )


def _one_field(text: str) -> str:
    """`text` with a space for each tab, line break or other unprintable character: a file or
    function name may hold any, and the reader splits the file into lines and the lines at tabs."""
    return "".join(char if char.isprintable() else " " for char in text)


def _record_lock_time(path: Path, locked_at: float, waited: float, held: float) -> None:
    """One line in the `LOCK_TIMES_ENV` file, if set: tab-separated wall-clock time the lock was
    taken, seconds held, seconds waited, pid, ledger file name, caller. One `O_APPEND` write, so
    lines from concurrent processes never interleave. Failing to write it never fails a commit."""
    target = os.environ.get(LOCK_TIMES_ENV)
    if not target:
        return
    names = f"{_one_field(path.name)}\t{_one_field(_caller())}"
    line = f"{locked_at:.6f}\t{held:.6f}\t{waited:.6f}\t{os.getpid()}\t{names}\n"
    try:
        # Non-blocking: a pipe nobody reads (a FIFO, /dev/stderr into a stalled reader) drops the
        # line rather than hold the transaction's caller up; a regular file is unaffected.
        fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
        try:
            os.write(fd, line.encode("utf-8", "replace"))
        finally:
            os.close(fd)
    except OSError as error:
        log.debug("could not record a ledger lock time in %s: %s", target, error)
