"""When the warm launcher gives a run's pool slots back, and when it must not: interleavings on a
test instance that a review of the first version found (session 19)."""

from __future__ import annotations

import os
import queue
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.tags import TAGS_TO_MAYBE_OMIT_ON_RETRY

from sync_pipeline.run_workers import launcher as launcher_module
from sync_pipeline.run_workers.identity import WORKER_RUN_TAG, WORKER_TAG, WorkerId, started_ticks, this_host
from sync_pipeline.run_workers.launcher import WarmRunLauncher, Zygote

POOL = "warm_review_pool"
DEAD_WORKER = WorkerId(this_host(), 4_194_000, 12345)  # no such pid (above the default pid_max)


def _run(
    instance: dg.DagsterInstance, run_id: str, status: DagsterRunStatus, tags: dict[str, str]
) -> DagsterRun:
    return instance.add_run(DagsterRun(job_name="j", run_id=run_id, status=status, tags=tags))


def _holders(instance: dg.DagsterInstance) -> list[str]:
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(POOL).claimed_slots]


def _holding(
    instance: dg.DagsterInstance, run_id: str, tags: dict[str, str], warm: bool = True
) -> WarmRunLauncher:
    """A launcher on `instance`, and a STARTED run `run_id` whose step holds the pool's one slot."""
    launcher = WarmRunLauncher(warm=warm)
    launcher.register_instance(instance)
    instance.event_log_storage.set_concurrency_slots(POOL, 1)
    _run(instance, run_id, DagsterRunStatus.STARTED, tags)
    assert instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "step").is_claimed
    return launcher


def test_a_free_that_failed_is_retried_with_the_exit_report(monkeypatch: pytest.MonkeyPatch) -> None:
    """_report_exits retries a failed _worker_exited (SQLite busy is why it retries). When the free
    failed after the run was failed, the first version's retry found the run finished and returned:
    the slot was never given back (never at all without free_slots_after_run_end_seconds)."""
    with dg.instance_for_test() as instance:
        launcher = _holding(instance, "killed", {WORKER_TAG: DEAD_WORKER.tag(), WORKER_RUN_TAG: "killed"})
        storage = instance.event_log_storage

        real_free = storage.free_concurrency_slots_for_run
        calls = []

        def busy_once(run_id: str) -> None:
            calls.append(run_id)
            if len(calls) == 1:
                raise Exception("(sqlite3.OperationalError) database is locked")
            real_free(run_id)

        monkeypatch.setattr(storage, "free_concurrency_slots_for_run", busy_once)
        monkeypatch.setattr(launcher_module.time, "sleep", lambda _s: None)
        reporter = object.__new__(Zygote)
        reporter._on_exit = launcher._worker_exited
        reporter._exits = queue.Queue()
        reporter._exits.put(("killed", DEAD_WORKER.pid, -9))
        reporter._exits.put(None)
        reporter._report_exits()

        assert instance.get_run_by_id("killed").status == DagsterRunStatus.FAILURE
        assert _holders(instance) == [], f"slot still held by the dead run; free attempts: {calls}"


def test_a_retry_carrying_its_parents_worker_tag_keeps_its_slot() -> None:
    """Dagster's run retries (and UI re-execution) copy the parent's tags; sync/run_worker is not
    among TAGS_TO_MAYBE_OMIT_ON_RETRY. A retry launched through the code server (warm: false, or a
    location on another interpreter) never overwrites it, so run monitoring asked about the
    parent's dead worker: the first version freed the live retry's slot (and failed the run)."""
    assert WORKER_TAG not in TAGS_TO_MAYBE_OMIT_ON_RETRY
    with dg.instance_for_test() as instance:
        # The retry, started by a cold (code-server) worker, its step holding the pool's one slot;
        # its tags copied from its parent, whose warm worker is dead.
        tags = {WORKER_TAG: DEAD_WORKER.tag(), WORKER_RUN_TAG: "parent"}
        launcher = _holding(instance, "retry", tags, warm=False)
        storage = instance.event_log_storage

        launcher.check_run_worker_health(instance.get_run_by_id("retry"))
        # Another run's step now gets the pool too: two steps in a pool of one.
        other_claimed = storage.claim_concurrency_slot(POOL, "next", "step").is_claimed
        assert _holders(instance) == ["retry"] and not other_claimed, (_holders(instance), other_claimed)


def test_an_unreadable_proc_entry_is_not_taken_for_a_dead_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """started_ticks() took every OSError (EMFILE in a daemon out of descriptors, EACCES) for "no
    such process", so a live worker was judged gone: its run failed and its slots freed."""
    me = WorkerId(this_host(), os.getpid(), started_ticks(os.getpid()) or 0)  # alive: this process
    with dg.instance_for_test() as instance:
        launcher = _holding(instance, "live", {WORKER_TAG: me.tag(), WORKER_RUN_TAG: "live"})
        real_read = Path.read_text

        def emfile(self: Path, *a, **k) -> str:
            if str(self).startswith("/proc/"):
                raise OSError(24, "Too many open files")
            return real_read(self, *a, **k)

        monkeypatch.setattr(Path, "read_text", emfile)
        result = launcher.check_run_worker_health(instance.get_run_by_id("live"))
        monkeypatch.undo()
        assert _holders(instance) == ["live"], (result, _holders(instance))
