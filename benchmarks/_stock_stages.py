"""Where a stock change's time goes, for benchmarks/stock_flow.py (b): callback → run → read → push.

Each change seen in Shopify is laid against the `stock_changes_job` run whose push made it visible
(the latest run whose push step began before the poll saw it: Shopify shows a level as soon as its
request is applied, often seconds before the step ends). The time from the goods-in to Shopify
showing it is split at that run's boundaries, each clamped between the change's start and the
moment it was seen, so the stages add up to the change's latency:

- `waiting_for_run`: goods-in → the run was created (the callback's trip, the sensor's tick, the
  previous run still in flight); 0 when the change joined a run already created;
- `run_start`: created → the run worker started (the run queue and the process launch);
- `to_read_step`: started → the read step began (loading the code location, resources);
- `read_step`: the Peoplevox re-read (its limiter, the breaker, the ledger);
- `to_push_step`: the read step's end → the push step began (its blocking check, the pool);
- `push_step`: the push (in doubt, Shopify's levels, the writes) until the change was seen;
- `poll`: the push's end → the benchmark's poll saw it, when it saw it after the step ended.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from sync_pipeline.rehearsal.report import rounded
from sync_pipeline.rehearsal.stack import percentile

STAGES = ("waiting_for_run", "run_start", "to_read_step", "read_step", "to_push_step", "push_step", "poll")
JOB = "stock_changes_job"
STEP_KEYS = {"availability_changes": "read", "inventory_levels": "push"}  # the asset keys' last part
# The read step's own figures (its materialization metadata, defs/inventory/metadata.py).
READ_FIGURES = ("items_asked", "rows_read", "peoplevox_requests", "peoplevox_pacer_wait_seconds",
                "peoplevox_wire_seconds")  # fmt: skip


@dataclass(frozen=True)
class RunTimes:
    """Wall-clock seconds of one run's boundaries."""

    created: float
    started: float
    read_start: float
    read_end: float
    push_start: float
    push_end: float
    read: dict[str, float]  # READ_FIGURES of its read step (empty when it recorded none)


def run_times(dagster_home: Path) -> list[RunTimes]:
    """Every finished stock_changes_job run with both steps, oldest first."""
    import dagster as dg  # here: the benchmark's other parts do not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    found: list[RunTimes] = []
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records(filters=dg.RunsFilter(job_name=JOB)):
            steps: dict[str, dict[str, float]] = {}
            figures: dict[str, float] = {}
            kinds = {dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS,
                     dg.DagsterEventType.ASSET_MATERIALIZATION}  # fmt: skip
            for event in instance.all_logs(record.dagster_run.run_id, of_type=kinds):
                if event.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
                    materialization = event.asset_materialization
                    if (
                        materialization is not None
                        and materialization.asset_key.path[-1] == "availability_changes"
                    ):
                        figures = {k: float(v.value) for k, v in materialization.metadata.items()
                                   if k in READ_FIGURES}  # fmt: skip
                    continue
                step = STEP_KEYS.get((event.step_key or "").rsplit("__", 1)[-1])
                if step is None:
                    continue  # the checks' own steps
                edge = "start" if event.dagster_event_type == dg.DagsterEventType.STEP_START else "end"
                steps.setdefault(step, {})[edge] = event.timestamp
            read, push = steps.get("read", {}), steps.get("push", {})
            if record.start_time is None or len(read) < 2 or len(push) < 2:
                continue
            found.append(
                RunTimes(record.create_timestamp.timestamp(), record.start_time, read["start"], read["end"],
                         push["start"], push["end"], figures)
            )  # fmt: skip
    return sorted(found, key=lambda r: r.push_start)


def split(at: float, seen: float, run: RunTimes) -> dict[str, float]:
    """The change's latency (`at` → `seen`, wall clock) split at the run's boundaries."""
    edges = [at, run.created, run.started, run.read_start, run.read_end, run.push_start, run.push_end, seen]
    clamped = [min(seen, max(at, e)) for e in edges]
    return {name: max(0.0, clamped[i + 1] - clamped[i]) for i, name in enumerate(STAGES)}


def stages(dagster_home: Path, changes: list[Any]) -> dict[str, Any]:
    """p50 / p95 / mean per stage over the changes seen, and the runs' own figures."""
    runs = run_times(dagster_home)
    offset = time.time() - time.monotonic()  # the changes' clock is monotonic; Dagster's is wall
    per_stage: dict[str, list[float]] = {name: [] for name in STAGES}
    matched = 0
    for change in changes:
        if change.seen_after is None:
            continue
        at, seen = change.at + offset, change.seen_after + offset
        candidates = [r for r in runs if r.push_start <= seen and r.push_end >= at]
        if not candidates:
            continue
        matched += 1
        for name, value in split(at, seen, candidates[-1]).items():
            per_stage[name].append(value)
    gaps = [b.created - a.push_end for a, b in pairwise(runs)]
    summary: dict[str, Any] = {
        name: {"p50": rounded(percentile(v, 50)), "p95": rounded(percentile(v, 95)),
               "mean": rounded(sum(v) / len(v) if v else None)}
        for name, v in per_stage.items()
    }  # fmt: skip
    summary["changes_matched"] = matched
    summary["runs"] = {
        "count": len(runs),
        "run_start_mean": rounded(_mean([r.started - r.created for r in runs])),
        "to_read_step_mean": rounded(_mean([r.read_start - r.started for r in runs])),
        "read_step_mean": rounded(_mean([r.read_end - r.read_start for r in runs])),
        "to_push_step_mean": rounded(_mean([r.push_start - r.read_end for r in runs])),
        "push_step_mean": rounded(_mean([r.push_end - r.push_start for r in runs])),
        "push_end_to_next_created_mean": rounded(_mean(gaps)),
    }
    summary["read"] = read_costs(runs)
    return summary


def read_costs(runs: list[RunTimes]) -> dict[str, Any]:
    """Per run: p50 / p95 of the read step's figures; over all runs: rows per request, the share of
    the read step spent waiting for Peoplevox's pacer and on the wire."""
    reads = [r for r in runs if r.read]
    out: dict[str, Any] = {
        name: {"p50": rounded(percentile([r.read[name] for r in reads], 50)),
               "p95": rounded(percentile([r.read[name] for r in reads], 95))}
        for name in READ_FIGURES
    }  # fmt: skip
    requests = sum(r.read["peoplevox_requests"] for r in reads)
    step = sum(r.read_end - r.read_start for r in reads)
    out["runs"] = len(reads)
    out["rows_per_request"] = rounded(
        sum(r.read["rows_read"] for r in reads) / requests if requests else None
    )
    out["pacer_share_of_read_step"] = rounded(
        sum(r.read["peoplevox_pacer_wait_seconds"] for r in reads) / step if step else None
    )
    out["wire_share_of_read_step"] = rounded(
        sum(r.read["peoplevox_wire_seconds"] for r in reads) / step if step else None
    )
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def describe(summary: dict[str, Any]) -> str:
    lines = [f"  where a change's time goes ({summary['changes_matched']} changes; seconds p50 / p95 / mean)"]
    for name in STAGES:
        s = summary[name]
        lines.append(f"    {name:<16} {s['p50']} / {s['p95']} / {s['mean']}")
    runs = summary["runs"]
    lines.append(
        f"  runs ({runs['count']}): created → started {runs['run_start_mean']}s, → read step "
        f"{runs['to_read_step_mean']}s, read {runs['read_step_mean']}s, → push step {runs['to_push_step_mean']}s, "
        f"push {runs['push_step_mean']}s, push end → next run created {runs['push_end_to_next_created_mean']}s (means)"
    )
    read = summary["read"]
    lines.append(f"  read steps ({read['runs']}; per run p50 / p95): " + ", ".join(
        f"{name} {read[name]['p50']} / {read[name]['p95']}" for name in READ_FIGURES))  # fmt: skip
    lines.append(
        f"    rows per Peoplevox request {read['rows_per_request']}; of the read steps' time: pacer "
        f"{read['pacer_share_of_read_step']}, wire {read['wire_share_of_read_step']}"
    )
    return "\n".join(lines)
