"""Runs the rehearsal's own `kill_run_worker` fault killed, and a retry completed, are listed apart
from failures; a killed run no retry completed, and every other failed run, still count as failed.

The runs are recorded in a real Dagster instance (sqlite under a temporary DAGSTER_HOME) as Dagster
records them: the retry's `dagster/parent_run_id` tag, and the engine event "Started process for
run (pid: …)" its run worker writes, which is how a killed pid is matched to its run.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import pytest
from dagster._core.events import EngineEventData
from dagster._core.storage.dagster_run import DagsterRun

from sync_pipeline.rehearsal import collect
from sync_pipeline.rehearsal.runs import KILLED_RETRIED, RunView, by_status

JOB = "stock_changes_job"
KILLED, OTHER_KILLED, OTHER = 4101, 4102, 4103


def test_a_killed_run_counts_apart_only_once_a_retry_down_its_chain_succeeded() -> None:
    runs = [
        RunView("a", JOB, "FAILURE", pid=KILLED),
        RunView("a1", JOB, "FAILURE", parent_run_id="a", pid=OTHER),  # the retry failed too
        RunView("a2", JOB, "SUCCESS", parent_run_id="a1"),  # … and its retry completed
        RunView("b", JOB, "FAILURE", pid=OTHER_KILLED),  # killed, never retried
        RunView("c", JOB, "FAILURE", pid=OTHER),  # a real failure, retried successfully
        RunView("c1", JOB, "SUCCESS", parent_run_id="c"),
    ]
    assert by_status(runs, [KILLED, OTHER_KILLED]) == {JOB: {KILLED_RETRIED: 1, "FAILURE": 3, "SUCCESS": 2}}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _record(instance: dg.DagsterInstance, run_id: str, status: dg.DagsterRunStatus, pid: int | None,
            parent: str | None = None) -> None:  # fmt: skip
    tags = {"dagster/parent_run_id": parent, "dagster/root_run_id": parent} if parent else {}
    run = instance.add_run(DagsterRun(job_name=JOB, run_id=run_id, status=status, tags=tags))
    if pid is not None:
        instance.report_engine_event(
            f"Started process for run (pid: {pid}).", run, EngineEventData.in_process(pid)
        )


def test_run_statuses_read_the_killed_worker_and_the_retry_from_dagsters_storage(home: Path) -> None:
    with dg.DagsterInstance.get() as instance:
        _record(instance, "killed", dg.DagsterRunStatus.FAILURE, KILLED)
        _record(instance, "killed-retry", dg.DagsterRunStatus.SUCCESS, 4200, parent="killed")
        _record(instance, "killed-alone", dg.DagsterRunStatus.FAILURE, OTHER_KILLED)
        _record(instance, "broken", dg.DagsterRunStatus.FAILURE, OTHER)
        _record(instance, "broken-retry", dg.DagsterRunStatus.SUCCESS, 4201, parent="broken")
    world = SimpleNamespace(work=SimpleNamespace(dagster_home=home))
    statuses = collect.run_statuses(world, [KILLED, OTHER_KILLED])  # type: ignore[arg-type]
    assert statuses[JOB]["launched"] == 5
    assert statuses[JOB]["by_status"] == {KILLED_RETRIED: 1, "FAILURE": 2, "SUCCESS": 2}
    # With no fault behind them, every failed run is a failure, as Dagster has it.
    assert collect.run_statuses(world)[JOB]["by_status"] == {"FAILURE": 3, "SUCCESS": 2}  # type: ignore[arg-type]
