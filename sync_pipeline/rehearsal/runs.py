"""Which failed runs were the rehearsal's own doing: a run worker the `kill_run_worker` fault
SIGKILLed fails in Dagster's storage like any other run, and Dagster's run retries start it again.

A killed run whose retry (or a retry of that retry) succeeded is a fault the product absorbed, and
is listed apart; a killed run no retry completed is a failure like any other, and so is every run
that failed with no fault behind it. Pure functions over plain data (`collect` reads the runs).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FAILURE = "FAILURE"
SUCCESS = "SUCCESS"
KILLED_RETRIED = "KILLED_BY_FAULT_RETRY_COMPLETED"


@dataclass(frozen=True)
class RunView:
    run_id: str
    job: str
    status: str  # Dagster's run status value: SUCCESS, FAILURE, CANCELED, …
    parent_run_id: str | None = None  # the run this one retries (Dagster's `dagster/parent_run_id`)
    pid: int | None = None  # the run worker's process ("Started process for run (pid: …)")


def completed_by_retry(run_id: str, runs: Mapping[str, RunView]) -> bool:
    """Some retry of `run_id`, directly or down a chain of retries, succeeded."""
    children: dict[str, list[str]] = {}
    for r in runs.values():
        if r.parent_run_id:
            children.setdefault(r.parent_run_id, []).append(r.run_id)
    todo, seen = list(children.get(run_id, [])), set()
    while todo:
        child = todo.pop()
        if child in seen:
            continue
        seen.add(child)
        if runs[child].status == SUCCESS:
            return True
        todo += children.get(child, [])
    return False


def outcome(run: RunView, runs: Mapping[str, RunView], killed_pids: Iterable[int]) -> str:
    """The status the report lists a run under: a failed run the fault killed and a retry
    completed is `KILLED_RETRIED`; every other run keeps Dagster's status."""
    if run.status == FAILURE and run.pid in set(killed_pids) and completed_by_retry(run.run_id, runs):
        return KILLED_RETRIED
    return run.status


def by_status(runs: Iterable[RunView], killed_pids: Iterable[int]) -> dict[str, Counter[str]]:
    """Per job, runs by the status the report lists them under (`outcome`)."""
    index = {r.run_id: r for r in runs}
    killed = set(killed_pids)
    out: dict[str, Counter[str]] = {}
    for r in index.values():
        out.setdefault(r.job, Counter())[outcome(r, index, killed)] += 1
    return out
