"""The warm process run workers are forked from (`python -m sync_pipeline.run_workers.zygote`).

It imports Dagster and builds the code location's definitions once, then serves its launcher
over its stdin and stdout, one JSON object a line:

- in: `{"run_id": …, "instance_ref": …}`: fork a worker for that run;
- out: `{"ready": true, "pid": …, "warm_cpu_seconds": …}` once warm, then
  `{"run_id": …, "pid": …}` for each worker forked and `{"exited": pid, "run_id": …, "status": n}`
  when one ends (`status` is the exit code, or minus the signal that killed it).

It stays single-threaded, so a fork copies no lock another thread holds, and opens no instance,
connection or file a worker could inherit half-used. When its stdin closes (the launcher's
process ended, or it replaced this zygote after a code change) it forks nothing more and exits
once its workers have: they finish their runs, as the code server's do when the daemon stops.
Workers keep the zygote's process group and session, as the code server's spawned workers do.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from sync_pipeline.run_workers.identity import WORKER_NAME, ZYGOTE_NAME


def warm(preload: str) -> None:
    """Import what every run worker needs and build the definitions `module:attribute` names, so
    that a forked worker finds them done (a cold worker: `import dagster` 0.6 CPU-s, the
    definitions 1.4-2.3 CPU-s on a quiet 2-core machine).

    The built definitions replace the lazy `@dg.definitions` function on its module: Dagster calls
    that function again for every run it reconstructs, which rebuilt the whole defs folder in every
    warm worker (0.28 CPU-s a run, 7.5 % of the run workers' CPU at session 18's despatch peak).
    Every job is resolved here too. What workers imported on first use (pandas for a large staging,
    upath for the instance, httpcore for the first client) and the TLS context every client shares
    are made here for the same reason: together another 8 % of that CPU."""
    import importlib

    import dagster
    import dagster._cli.api
    import dagster._core.execution.api  # noqa: F401
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster.components.definitions import LazyDefinitions

    module_name, _, attribute = preload.partition(":")
    attribute = attribute or "defs"
    module = importlib.import_module(module_name)
    target = getattr(module, attribute)
    if isinstance(target, LazyDefinitions):
        setattr(module, attribute, target())
    repository = ReconstructableRepository.for_module(module_name, attribute, os.getcwd()).get_definition()
    repository.get_all_jobs()
    _warm_first_uses()


def _warm_first_uses() -> None:
    """Modules a run imports on first use, and the per-process TLS context (`lib/tls.py`)."""
    # numpy (under pandas) starts a pool of BLAS threads on import, and this process forks: one
    # thread, as the module docstring promises (runs do no linear algebra worth a pool).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import httpcore  # noqa: F401
    import pandas  # noqa: F401
    from dagster._core.storage import local_compute_log_manager  # noqa: F401
    from upath import UPath  # noqa: F401  (its registry reads entry points on first import)

    from sync_pipeline.lib.tls import tls_context

    tls_context()
    _remember_migration_heads()
    _read_business_rules()


def _read_business_rules() -> None:
    """The business rules every step loads, read once here: a worker reads the files again and,
    if no byte changed since, keeps these (`load_business_rules`). Rules that cannot be read are
    left for the run to report; this process must start whatever the rules say."""
    import warnings

    from sync_pipeline.lib.domain.config import load_business_rules
    from sync_pipeline.settings import SyncSettings

    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        load_business_rules(SyncSettings().rules_dir)


def _remember_migration_heads() -> None:
    """Each Dagster storage a worker opens asks Alembic for the head migration of its schema (the
    run and schedule storages when the instance opens, the event log for the index and for the
    run's own SQLite file), and Alembic reads and compiles every migration script again each time:
    ~28 ms each, 0.11 CPU-s a run. The scripts are Dagster's installed files and a worker only
    reads them (the head, or stamping a new run's file with it), so the zygote reads them once: one
    `ScriptDirectory` per script location for its workers, read before they fork. (Upgrading
    Dagster means restarting the daemon, and so this process, anyway.)"""
    from alembic.script import ScriptDirectory
    from dagster._core.storage.event_log.sqlite import sqlite_event_log
    from dagster._core.storage.sql import get_alembic_config

    read_scripts = ScriptDirectory.from_config.__func__  # type: ignore[attr-defined]
    known: dict[tuple[object, ...], ScriptDirectory] = {}

    def from_config(cls: type[ScriptDirectory], config: Any) -> ScriptDirectory:
        where = (cls, config.get_main_option("script_location"), config.get_main_option("version_locations"))
        if where not in known:
            known[where] = read_scripts(cls, config)
        return known[where]

    ScriptDirectory.from_config = classmethod(from_config)  # type: ignore[method-assign,assignment]
    ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__)).as_revision_number("head")


def _name_self(name: str) -> None:
    with contextlib.suppress(OSError):  # not Linux: the name is for people and the CPU meter
        Path("/proc/self/comm").write_text(name)


def _send(fd: int, message: dict[str, object]) -> bool:
    """Write one line to the launcher; False once it has gone (nobody reads the pipe)."""
    data = (json.dumps(message) + "\n").encode()
    try:
        while data:
            data = data[os.write(fd, data) :]
    except (BrokenPipeError, OSError):
        return False
    return True


def _exit_status(wait_status: int) -> int:
    if os.WIFSIGNALED(wait_status):
        return -os.WTERMSIG(wait_status)
    return os.WEXITSTATUS(wait_status)


class Zygote:
    def __init__(self, requests: int, replies: int) -> None:
        self.requests = requests
        self.replies = replies
        self.launcher_gone = False
        self.workers: dict[int, str] = {}  # pid → run id
        self.wake_read, self.wake_write = os.pipe()
        for fd in (self.wake_read, self.wake_write):
            os.set_blocking(fd, False)

    def send(self, message: dict[str, object]) -> None:
        if not self.launcher_gone and not _send(self.replies, message):
            self.launcher_gone = True

    def serve(self) -> None:
        # A SIGCHLD wakes the select below through the wakeup pipe (the handler itself does nothing).
        signal.set_wakeup_fd(self.wake_write)
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)
        pending = b""
        closing = False
        while not closing or self.workers:
            watched = [self.wake_read] if closing else [self.requests, self.wake_read]
            # The timeout only bounds how late an exit is reaped if a wakeup were ever missed.
            readable, _, _ = select.select(watched, [], [], 5.0)
            if self.wake_read in readable:
                while True:
                    try:
                        if not os.read(self.wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            self.reap()
            if self.requests in readable:
                chunk = os.read(self.requests, 65536)
                if not chunk:
                    closing = True
                    continue
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if line.strip():
                        self.start(json.loads(line))

    def reap(self) -> None:
        while self.workers:
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            run_id = self.workers.pop(pid, None)
            self.send({"exited": pid, "run_id": run_id, "status": _exit_status(wait_status)})

    def start(self, request: dict[str, str]) -> None:
        run_id = request["run_id"]
        try:
            pid = os.fork()
        except OSError as error:  # no memory, a pids limit: this run fails to launch, not the zygote
            self.send({"run_id": run_id, "pid": None, "error": f"fork failed: {error}"})
            return
        if pid == 0:
            self._become_worker(run_id, request["instance_ref"])
        self.workers[pid] = run_id
        self.send({"run_id": run_id, "pid": pid})

    def _become_worker(self, run_id: str, instance_ref: str) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (self.requests, self.replies, self.wake_read, self.wake_write):
                os.close(fd)
            _name_self(WORKER_NAME)
            from sync_pipeline.run_workers.worker import execute_run

            code = execute_run(run_id, instance_ref)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # Not `sys.exit`: the zygote's own exit handlers are not the worker's to run.
            os._exit(code)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        sys.exit("usage: python -m sync_pipeline.run_workers.zygote MODULE:ATTRIBUTE")
    # The launcher's pipes move off 0 and 1, so that nothing printed (by the definitions, a step,
    # a library) can corrupt them: stdin becomes /dev/null, stdout goes where stderr goes (the
    # daemon's log), for the zygote and so for every worker.
    requests, replies = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    _name_self(ZYGOTE_NAME)
    began = time.process_time()
    warm(argv[1])
    # Everything warm() made is shared with the workers copy-on-write; a worker's first garbage
    # collection would otherwise touch (and so copy) all of it: ~60 MB a worker with our definitions.
    gc.collect()
    gc.freeze()
    zygote = Zygote(requests, replies)
    zygote.send(
        {"ready": True, "pid": os.getpid(), "warm_cpu_seconds": round(time.process_time() - began, 3)}
    )
    zygote.serve()


if __name__ == "__main__":
    main(sys.argv)
