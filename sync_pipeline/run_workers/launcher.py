"""`WarmRunLauncher`: Dagster's run launcher for the embedded deployment, forking warm run workers.

Set in dagster.yaml (`run_launcher`). Dagster's own `DefaultRunLauncher` asks the code server to
start each run, and the code server spawns a fresh interpreter that imports Dagster and builds the
definitions again (2.0-2.5 CPU-s a run; on a busy 2-core host tens of seconds from launch to the
first step). This launcher keeps a warm process (`zygote`) beside the daemon and forks each run's
worker from it: a worker's start-up is opening the instance, about 0.1-0.4 CPU-s.

What stays as with the code server:
- the worker runs the job as `dagster api execute_run` does (`worker.execute_run`), in the
  daemon's environment and working directory, which the embedded code server also inherits;
- a worker that dies before its run ends (SIGKILL, the OOM killer) fails the run at once, with
  the exit code or signal, and `run_retries` retries it; if the daemon itself was gone when the
  worker died, run monitoring finds it (`check_run_worker_health`, every `poll_interval_seconds`);
- cancelling a run (the UI, run monitoring) interrupts its worker with SIGINT, which Dagster turns
  into its own interrupt, as the code server's termination event does;
- a daemon stopped or restarted leaves its workers running to the end of their runs.

What differs:
- runs whose code location runs another Python interpreter than the daemon's, and every run when
  `warm: false`, go through the code server as before (`DefaultRunLauncher`);
- a code change is picked up at the next launch: the launcher fingerprints the definitions'
  package (every .py file's path, size and modification time) and replaces the zygote when it
  changed;
- the deployment (deploy/dagster.yaml) keeps `DefaultRunLauncher`: there each brand's runs must
  start in that brand's code-location container, with its environment and ledger volume.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from dagster import Field
from dagster._core.errors import DagsterLaunchFailedError
from dagster._core.launcher import (
    CheckRunHealthResult,
    DefaultRunLauncher,
    LaunchRunContext,
    RunLauncher,
    WorkerStatus,
)
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value
from dagster._utils import get_run_crash_explanation

from sync_pipeline.run_workers.identity import WORKER_RUN_TAG, WORKER_TAG, WorkerId, is_alive, this_host

DEFAULT_PRELOAD = "sync_pipeline.definitions:defs"
# How long a launch waits for a new zygote to warm and for a fork's pid. Warming is 2-3 CPU-s and
# a fork's answer milliseconds; a starved host at a peak stretches both, and a launch that gives
# up fails its run, so the limits only catch a zygote that is wedged (which is then replaced).
READY_TIMEOUT_SECONDS = 180.0
FORK_TIMEOUT_SECONDS = 300.0
# A worker's exit is reported to the instance from a thread of its own, retried: a failure there
# (SQLite busy) must neither lose the report nor stop the replies the launches wait for.
EXIT_REPORT_ATTEMPTS = 5
# How long a cancel waits for a just-forked worker to write its tag before leaving it to the
# worker's own check.
TAG_WAIT_SECONDS = 10.0

log = logging.getLogger(__name__)


def package_fingerprint(module: str) -> str | None:
    """A digest of every .py file's path, size and modification time in `module`'s top-level
    package: changes when the code does, a file moved or renamed included. None when the package
    cannot be found."""
    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    roots = list(spec.submodule_search_locations or []) if spec else []
    if not roots:
        return None
    entries = []
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    try:
                        stat = os.stat(path)
                    except FileNotFoundError:
                        continue  # removed while we walked: the next launch sees it gone
                    entries.append(f"{os.path.relpath(path, root)}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(sorted(entries)).encode()).hexdigest()


class ZygoteRetired(Exception):
    """The zygote a launch was about to use was replaced (a code change): use the current one."""


class _Forked:
    """A launch waiting for its worker's pid (or for the zygote to go)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.pid: int | None = None
        self.error: str | None = None


class Zygote:
    """One warm process, the thread that reads what it says, and the thread that reports its
    workers' exits. The reader never touches the instance, so a slow or failing storage write
    cannot stop the pids launches wait for, nor fill the pipe until the zygote blocks."""

    def __init__(self, preload: str, on_exit: Any, fingerprint: str | None) -> None:
        self.fingerprint = fingerprint
        self._on_exit = on_exit
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_pipeline.run_workers.zygote", preload],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.ready = threading.Event()
        self.gone = threading.Event()
        self._state = threading.Lock()  # guards: retired, launches, stdin
        self.retired = False
        self._launches = 0  # launches between their check and their reply
        self._waiting: dict[str, _Forked] = {}
        self._exits: queue.Queue[tuple[str | None, int, int] | None] = queue.Queue()
        threading.Thread(target=self._read, name="warm-run-workers", daemon=True).start()
        threading.Thread(target=self._report_exits, name="warm-run-worker-exits", daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for line in self.process.stdout:
                try:
                    self._dispatch(json.loads(line))
                except Exception:  # one bad line must not end the reading (and so the launches)
                    log.exception("warm run workers: could not read %r", line[:200])
        finally:
            self.process.wait()
            self.gone.set()
            self.ready.set()  # wakes a launch waiting for a zygote that died warming
            for forked in list(self._waiting.values()):
                forked.done.set()
            self._exits.put(None)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("ready"):
            log.info("warm run workers: ready in %s CPU-s", message.get("warm_cpu_seconds"))
            self.ready.set()
        elif "exited" in message:
            self._exits.put((message.get("run_id"), int(message["exited"]), int(message["status"])))
        else:
            forked = self._waiting.pop(message["run_id"], None)
            if forked is not None:
                forked.pid = message.get("pid")
                forked.error = message.get("error")
                forked.done.set()

    def _report_exits(self) -> None:
        while (exited := self._exits.get()) is not None:
            for attempt in range(1, EXIT_REPORT_ATTEMPTS + 1):
                try:
                    self._on_exit(*exited)
                    break
                except Exception:
                    if attempt == EXIT_REPORT_ATTEMPTS:
                        # Run monitoring still finds the worker gone (check_run_worker_health).
                        log.exception("warm run workers: could not report the exit of %s", exited)
                    else:
                        time.sleep(min(30.0, 0.5 * 2**attempt))

    def fork(self, run_id: str, instance_ref: str) -> int:
        if not self.ready.wait(READY_TIMEOUT_SECONDS) or self.gone.is_set():
            raise DagsterLaunchFailedError(
                "The warm process run workers are forked from "
                + (
                    f"exited with code {self.process.returncode} while loading the definitions "
                    "(its traceback is in the daemon's log)"
                    if self.gone.is_set()
                    else f"was not ready after {READY_TIMEOUT_SECONDS:.0f} s"
                )
            )
        forked = _Forked()
        request = (json.dumps({"run_id": run_id, "instance_ref": instance_ref}) + "\n").encode()
        with self._state:
            if self.retired:
                raise ZygoteRetired
            self._launches += 1
            self._waiting[run_id] = forked
            try:
                # Under the lock: a retire cannot close stdin mid-write. The zygote reads its requests
                # as they come, so this does not block unless it is wedged (then the timeout below).
                assert self.process.stdin is not None
                self.process.stdin.write(request)
                self.process.stdin.flush()
            except (OSError, ValueError) as error:
                self._waiting.pop(run_id, None)
                self._launches -= 1
                raise DagsterLaunchFailedError(f"The warm run-worker process is gone: {error}") from error
        try:
            if not forked.done.wait(FORK_TIMEOUT_SECONDS):
                self.retire()  # wedged: the next launch starts a new one
                raise DagsterLaunchFailedError(
                    f"The warm run-worker process did not fork a worker for run {run_id} "
                    f"within {FORK_TIMEOUT_SECONDS:.0f} s; it is replaced"
                )
            if forked.pid is None:
                raise DagsterLaunchFailedError(
                    f"The warm run-worker process could not fork a worker for run {run_id}: "
                    + (forked.error or f"it exited (code {self.process.returncode})")
                )
            return forked.pid
        finally:
            self._waiting.pop(run_id, None)
            with self._state:
                self._launches -= 1
                self._close_if_done()

    def retire(self) -> None:
        """Fork nothing more; the zygote exits once its workers have ended their runs. Its stdin
        closes once no launch is between its request and the reply."""
        with self._state:
            self.retired = True
            self._close_if_done()

    def _close_if_done(self) -> None:  # with self._state held
        if self.retired and self._launches == 0 and self.process.stdin and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Forks each run's worker from a warm process (see the module docstring)."""

    def __init__(
        self,
        inst_data: ConfigurableClassData | None = None,
        preload: str = DEFAULT_PRELOAD,
        warm: bool = True,
    ) -> None:
        self._inst_data = inst_data
        self._preload = preload
        self._warm = warm
        self._host = this_host()
        self._lock = threading.Lock()
        self._zygote: Zygote | None = None
        self._retired: list[Zygote] = []
        self._cold = DefaultRunLauncher()
        super().__init__()

    # -- ConfigurableClass --------------------------------------------------------------------

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        return {
            "preload": Field(
                str,
                is_required=False,
                default_value=DEFAULT_PRELOAD,
                description="module:attribute of the definitions the warm process builds once",
            ),
            "warm": Field(
                bool,
                is_required=False,
                default_value=True,
                description="false: every run through the code server, as DefaultRunLauncher",
            ),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> WarmRunLauncher:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: Any) -> None:
        super().register_instance(instance)
        self._cold.register_instance(instance)

    # -- launching ----------------------------------------------------------------------------

    def _can_fork(self, run: DagsterRun) -> bool:
        origin = run.job_code_origin
        return self._warm and origin is not None and origin.executable_path == sys.executable

    def _current_zygote(self) -> Zygote:
        with self._lock:
            # Under the lock: a launch holding an older fingerprint must not retire a zygote that
            # another launch has just started on the new code.
            fingerprint = package_fingerprint(self._preload.split(":")[0])
            zygote = self._zygote
            if zygote is not None and (
                zygote.gone.is_set() or zygote.retired or zygote.fingerprint != fingerprint
            ):
                zygote.retire()
                self._retired.append(zygote)
                zygote = None
            self._retired = [z for z in self._retired if not z.gone.is_set()]
            if zygote is None:
                zygote = self._zygote = Zygote(self._preload, self._worker_exited, fingerprint)
            return zygote

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if not self._can_fork(run):
            self._cold.launch_run(context)
            return
        ref = serialize_value(self._instance.get_ref())
        try:
            self._current_zygote().fork(run.run_id, ref)
        except ZygoteRetired:  # replaced between our look and our request: once more, on the new one
            self._current_zygote().fork(run.run_id, ref)

    def _worker_exited(self, run_id: str | None, pid: int, status: int) -> None:
        """A worker ended: if its run did not, end it now, as the code server does for a worker it
        spawned: cancelled if it was being cancelled (a cancel that came before the worker could
        be interrupted), else failed (run retries take it from there)."""
        if run_id is None or not self.has_instance:
            return
        run = self._instance.get_run_by_id(run_id)
        if run is None:
            return
        if not run.is_finished:
            message = get_run_crash_explanation(
                prefix=f"Run worker (pid {pid}) for run {run_id}", exit_code=status
            )
            self._instance.report_engine_event(message, run, cls=self.__class__)
            if run.status == DagsterRunStatus.CANCELING:
                self._instance.report_run_canceled(run)
            else:
                self._instance.report_run_failed(run)
        # Also for a run already finished: when this report is retried after a failed free (the
        # run was failed the first time), and a no-op for one that ended normally (its steps
        # freed their slots). The worker is reaped: no step of it can hold a slot any more.
        self._free_pool_slots(run, f"its worker (pid {pid}) exited")

    def _free_pool_slots(self, run: DagsterRun, why: str) -> None:
        """Give back the pool slots a dead worker's steps held (or waited for). A step frees its
        slot as it ends; a killed worker's never does, and Dagster frees it only from run monitoring,
        `free_slots_after_run_end_seconds` after the run ended and at its next poll: 15-40 s in which
        the flow's next run waited for the pool (a stock push stalled 81 s in session 19's rehearsal
        after the kill_run_worker fault). Only for a worker known to be gone: steps run in the
        worker's own process (in-process executor), so none of them can still hold one."""
        storage = self._instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return
        if run.run_id not in storage.get_concurrency_run_ids():  # held none, waited for none
            return
        storage.free_concurrency_slots_for_run(run.run_id)
        self._instance.report_engine_event(
            f"Gave back the pool slots run {run.run_id} held or waited for: {why}.", run, cls=self.__class__
        )

    # -- health and cancelling ----------------------------------------------------------------

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        worker = worker_of(run)
        if worker is None:
            # Launched through the code server (which fails the run if its worker dies), or a
            # worker that has not written its tag yet: not this launcher's to judge.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no warm worker recorded")
        alive = is_alive(worker, self._host)
        if alive is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"worker on {worker.host}: cannot check")
        if alive:
            return CheckRunHealthResult(WorkerStatus.RUNNING)
        # Found gone by run monitoring (it died while no daemon ran): monitoring fails the run
        # next; its slots are given back now rather than `free_slots_after_run_end_seconds` later.
        self._free_pool_slots(run, f"its worker (pid {worker.pid}) is gone")
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"run worker pid {worker.pid} on {worker.host} is gone"
        )

    def terminate(self, run_id: str) -> bool:
        if not self.has_instance:
            return False
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        worker = worker_of(run)
        if worker is None and not self._can_fork(run):
            return self._cold.terminate(run_id)
        self._instance.report_run_canceling(run)
        if worker is None:
            # Forked, or about to be, but its worker has not named itself yet: it checks for a
            # cancel right after it does (worker.execute_run). Give it a moment to be interrupted
            # mid-run instead, should it have looked just before this cancel.
            deadline = time.monotonic() + TAG_WAIT_SECONDS
            while worker is None and time.monotonic() < deadline:
                time.sleep(0.2)
                fresh = self._instance.get_run_by_id(run_id)
                if fresh is None or fresh.is_finished:
                    return True
                worker = worker_of(fresh)
            if worker is None:
                return True
        alive = is_alive(worker, self._host)
        if not alive:
            where = "on another host" if alive is None else "gone"
            self._instance.report_engine_event(
                f"Run worker pid {worker.pid} on {worker.host} is {where}: nothing to interrupt.",
                run,
                cls=self.__class__,
            )
            return False
        try:
            os.kill(worker.pid, signal.SIGINT)  # Dagster's interrupt, as the code server sends it
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            for zygote in [self._zygote, *self._retired]:
                if zygote is not None:
                    zygote.retire()
            self._zygote = None
            self._retired = []
        self._cold.dispose()


def worker_of(run: DagsterRun) -> WorkerId | None:
    """The warm worker that runs `run`, from the tags it wrote; None when the tags were copied from
    another run (a retry or re-execution started through the code server inherits its parent's)."""
    if run.tags.get(WORKER_RUN_TAG) != run.run_id:
        return None
    return WorkerId.parse(run.tags.get(WORKER_TAG, ""))
