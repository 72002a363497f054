"""An interruption (Ctrl-C, a signal handler's exception) inside taking or letting go of the ledger's
process lock leaves nothing held: not the flock on `<ledger>.lock` (every other process would wait
on it for as long as this one lives, and so would this one, on a descriptor of its own), not the
thread lock, not `<ledger>.waiting` locked exclusively, and no descriptor left open.

The interruption is injected where a signal's exception would surface: right after a system call
returned (a stand-in `fcntl`), or in a step of the lock's own.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import types
from pathlib import Path

import pytest

from sync_pipeline.lib.ledger import connection


def _free(path: Path, suffix: str = ".lock", how: int = fcntl.LOCK_EX) -> bool:
    """Whether another open file description can lock `<path><suffix>` at once."""
    fd = os.open(str(path) + suffix, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _threads_free(lock: connection._ProcessFileLock) -> bool:
    got: list[bool] = []

    def take() -> None:
        got.append(lock._threads.acquire(timeout=1))
        if got[0]:
            lock._threads.release()

    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return got == [True]


def _fresh(tmp_path: Path) -> tuple[Path, connection._ProcessFileLock]:
    path = tmp_path / "ledger.duckdb"
    return path, connection._ProcessFileLock(path)


def _fcntl_raising(when: object) -> types.SimpleNamespace:
    """`fcntl` whose `flock` raises KeyboardInterrupt when `when(fd, operation)` says so: after the
    call, as a signal arriving during it would surface."""

    def flock(fd: int, operation: int) -> None:
        fcntl.flock(fd, operation)
        if when(fd, operation):  # type: ignore[operator]
            raise KeyboardInterrupt

    return types.SimpleNamespace(
        flock=flock,
        LOCK_EX=fcntl.LOCK_EX,
        LOCK_SH=fcntl.LOCK_SH,
        LOCK_NB=fcntl.LOCK_NB,
        LOCK_UN=fcntl.LOCK_UN,
    )


def _let_go_entirely(path: Path, lock: connection._ProcessFileLock, fds: int) -> None:
    """Nothing of the interrupted hold is left: the flock, the thread lock, `fds` descriptors open,
    and the lock can be taken again."""
    assert _free(path), "the flock stayed held"
    assert _threads_free(lock), "the thread lock stayed held"
    assert _open_fds() == fds
    lock.acquire(path, 1, time.monotonic() + 1)
    lock.release()


def _release_interrupted_in(
    lock: connection._ProcessFileLock, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lock.release()` with a KeyboardInterrupt raised where it calls `method`."""

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(lock, method, interrupted)
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    monkeypatch.undo()


def test_an_interruption_while_letting_go_lets_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, lock = _fresh(tmp_path)
    lock.acquire(path, 1, time.monotonic() + 1)
    before = _open_fds()
    _release_interrupted_in(lock, "_others_waiting", monkeypatch)
    _let_go_entirely(path, lock, before - 1)


def test_an_interruption_just_after_the_flock_is_taken_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, lock = _fresh(tmp_path)
    before = _open_fds()
    lock_ex = fcntl.LOCK_EX | fcntl.LOCK_NB
    monkeypatch.setattr(connection, "fcntl", _fcntl_raising(lambda fd, op: op == lock_ex))
    with pytest.raises(KeyboardInterrupt):
        lock.acquire(path, 1, time.monotonic() + 1)
    monkeypatch.undo()
    _let_go_entirely(path, lock, before)


def _acquire_interrupted_in_sleep(
    path: Path, lock: connection._ProcessFileLock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`acquire`, with a KeyboardInterrupt at its first sleep (giving way, or between looks)."""

    def sleep(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(connection, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    with pytest.raises(KeyboardInterrupt):
        lock.acquire(path, 1, time.monotonic() + 1)
    monkeypatch.undo()


def test_an_interruption_while_giving_way_leaves_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, lock = _fresh(tmp_path)
    before = _open_fds()
    lock._give_way_until = time.monotonic() + 5

    _acquire_interrupted_in_sleep(path, lock, monkeypatch)
    assert _open_fds() == before
    assert _threads_free(lock)


def test_an_interruption_while_waiting_leaves_no_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, lock = _fresh(tmp_path)
    other = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        before = _open_fds()

        _acquire_interrupted_in_sleep(path, lock, monkeypatch)
        assert _open_fds() == before
        assert _free(path, ".waiting"), "still seen waiting"
    finally:
        os.close(other)


def test_an_interruption_while_asking_who_waits_leaves_the_waiting_file_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held exclusively, `.waiting` would refuse every waiter's shared lock: nobody could ever be
    seen waiting, and a back-to-back holder would starve the others again."""
    path, lock = _fresh(tmp_path)
    lock.acquire(path, 1, time.monotonic() + 1)
    probe_ex = fcntl.LOCK_EX | fcntl.LOCK_NB
    monkeypatch.setattr(
        connection, "fcntl", _fcntl_raising(lambda fd, op: op == probe_ex and fd == lock._probe_fd)
    )
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    monkeypatch.undo()
    assert _free(path, ".waiting", fcntl.LOCK_SH), "the probe left .waiting locked"
    assert _free(path)
    assert _threads_free(lock)


def test_a_descriptor_an_interruption_kept_open_is_closed_at_the_next_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interruption can land at the very start of the cleanup itself (a Python function's entry
    is where a pending signal's exception surfaces), before the descriptor is closed. The next hold
    must not open a second descriptor and wait on the first, its own, until LedgerBusyError."""
    path, lock = _fresh(tmp_path)
    lock.acquire(path, 1, time.monotonic() + 1)
    _release_interrupted_in(lock, "_let_go", monkeypatch)
    assert _threads_free(lock)
    before = _open_fds()
    lock.acquire(path, 0.5, time.monotonic() + 0.5)
    lock.release()
    assert _free(path)
    assert _open_fds() == before - 1
