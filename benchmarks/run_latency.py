"""Where a run's creation -> start goes, read from a Dagster instance after the fact.

Point it at the DAGSTER_HOME of a rehearsal or benchmark run (`--keep` keeps it) and it splits the
time every run spent between creation and RUN_START into

  queued    creation -> STARTING (the daemon launched it), second by second by what held it back:
            a run-slot limit (`concurrency.runs.tag_concurrency_limits`, counted as Dagster does),
            its first steps' pool (`op_granularity_run_buffer`: holders + waiters + starting runs),
            or nothing we can name (the daemon's pace: its pass interval, launches one after
            another, a restart);
  start-up  STARTING -> RUN_START (the code server spawns the worker, which imports the code and
            loads the definitions);

and says what the runs holding the slots were doing meanwhile (starting up, waiting for a pool,
working in one), how busy each pool was, and how long a pool stood idle while a run that needed it
first sat in the queue behind a run-slot limit. Read-only; no figure here is a goal, they are a map:

    .venv/bin/python benchmarks/run_latency.py /tmp/rehearsal-XXXX/dagster_home
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType

BLOCKED = "blocked by limit for pool "
STARTED_RUN_CLAIM_SECONDS = 5.0
PER_VALUE = "<per value>"  # Dagster counts a run's root pools for 5 s after it started


@dataclass
class Run:
    job: str
    tags: dict[str, str]
    root_pools: set[str]
    unconstrained_root: bool
    created: float
    starting: float | None = None
    start: float | None = None
    end: float | None = None
    working: list[tuple[float, float, str | None]] = field(default_factory=list)  # (from, to, pool)
    waiting: list[tuple[float, float, str]] = field(default_factory=list)

    def state(self, t: float) -> str | None:
        """What the run did at `t` while it held a run slot, or None when it held none."""
        if self.starting is None or t < self.starting or (self.end is not None and t >= self.end):
            return None
        if self.start is None or t < self.start:
            return "starting up"
        for a, b, pool in self.waiting:
            if a <= t < b:
                return f"waiting for {pool}"
        for a, b, pool in self.working:
            if a <= t < b:
                return f"working in {pool}" if pool else "working (no pool)"
        return "between steps"

    def claims(self, pool: str, t: float) -> bool:
        """Whether the run counts against `pool` at `t` in Dagster's op_granularity_run_buffer check."""
        state = self.state(t)
        if state in (f"waiting for {pool}", f"working in {pool}"):
            return True
        starting = (
            self.starting is not None
            and state is not None
            and (self.start is None or t < self.start + STARTED_RUN_CLAIM_SECONDS)
        )
        return starting and pool in self.root_pools


def load_runs(instance: dg.DagsterInstance) -> list[Run]:
    runs: list[Run] = []
    for record in instance.get_run_records():
        run = record.dagster_run
        concurrency = run.run_op_concurrency
        item = Run(
            job=run.job_name,
            tags=dict(run.tags),
            root_pools=set(concurrency.root_key_counts) if concurrency else set(),
            unconstrained_root=bool(concurrency is None or concurrency.has_unconstrained_root_nodes),
            created=record.create_timestamp.timestamp(),
        )
        plan = (
            instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            if run.execution_plan_snapshot_id
            else None
        )
        pools = {step.key: step.pool for step in plan.steps} if plan else {}
        started: dict[str, float] = {}
        blocked: dict[str, tuple[float, str]] = {}
        for entry in instance.all_logs(run.run_id):
            event, t, step = entry.dagster_event, entry.timestamp, entry.step_key
            kind = event.event_type if event else None
            if kind == DagsterEventType.PIPELINE_ENQUEUED:
                item.created = t
            elif kind == DagsterEventType.PIPELINE_STARTING and item.starting is None:
                item.starting = t
            elif kind == DagsterEventType.PIPELINE_START and item.start is None:
                item.start = t
            elif (
                kind
                in (
                    DagsterEventType.PIPELINE_SUCCESS,
                    DagsterEventType.PIPELINE_FAILURE,
                    DagsterEventType.PIPELINE_CANCELED,
                )
                and item.end is None
            ):
                item.end = t
            elif kind == DagsterEventType.ENGINE_EVENT and step and BLOCKED in (entry.user_message or ""):
                blocked.setdefault(step, (t, entry.user_message.split(BLOCKED, 1)[1].strip()))
            elif kind == DagsterEventType.STEP_START and step:
                started[step] = t
                if step in blocked:
                    item.waiting.append((blocked[step][0], t, blocked[step][1]))
            elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE) and step in started:
                item.working.append((started.pop(step), t, pools.get(step)))
        runs.append(item)
    return sorted(runs, key=lambda r: r.created)


def slot_limits(instance: dg.DagsterInstance) -> list[tuple[str, str | None, int]]:
    """(tag key, scope, limit) as the run queue applies them; scope is the one tag value limited,
    PER_VALUE for `applyLimitPerUniqueValue`, or None for every value of the key together."""
    config = instance.get_concurrency_config().run_queue_config
    limits = []
    for limit in (config.tag_concurrency_limits if config else None) or []:
        value = limit.get("value")
        scope = value if isinstance(value, str) else (PER_VALUE if isinstance(value, dict) else None)
        limits.append((limit["key"], scope, limit["limit"]))
    return limits


def why_queued(run: Run, t: float, runs: list[Run], limits, pool_cap: int) -> str:
    holding = [o for o in runs if o is not run and o.state(t) is not None]
    for key, scope, limit in limits:
        mine = run.tags.get(key)
        if mine is None or (scope not in (None, PER_VALUE) and mine != scope):
            continue
        held = [o for o in holding if (key in o.tags if scope is None else o.tags.get(key) == mine)]
        if len(held) >= limit:
            return f"run slots: {key}"
    if (
        run.root_pools
        and not run.unconstrained_root
        and all(sum(1 for o in holding if o.claims(pool, t)) >= pool_cap for pool in run.root_pools)
    ):
        return "its first step's pool (op_granularity_run_buffer)"
    return "the daemon's pace (pass interval, serial launches, restarts)"


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"mean {statistics.fmean(values):5.1f} s  p95 {p95:5.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dagster_home", type=Path)
    args = parser.parse_args()
    os.environ["DAGSTER_HOME"] = str(args.dagster_home.resolve())
    with dg.DagsterInstance.get() as instance:
        runs = load_runs(instance)
        limits = slot_limits(instance)
        config = instance.get_concurrency_config()
        buffer = (config.run_queue_config.op_concurrency_slot_buffer if config.run_queue_config else 0) or 0
        pool_cap = (config.pool_config.default_pool_limit or 1) + buffer

    launched = [r for r in runs if r.starting is not None]
    print(
        f"{len(runs)} runs, {len(launched)} launched; slot limits {limits}; pool claims before a run waits: {pool_cap}"
    )
    print("\nper job: creation -> STARTING (queued) | STARTING -> RUN_START (start-up)")
    for job in sorted({r.job for r in launched}):
        mine = [r for r in launched if r.job == job]
        queued = [r.starting - r.created for r in mine]
        startup = [r.start - r.starting for r in mine if r.start is not None]
        print(f"  {job:26s} n={len(mine):3d}  queued {spread(queued)} | start-up {spread(startup)}")

    reasons: Counter[str] = Counter()
    holders: dict[str, Counter[str]] = defaultdict(Counter)
    idle_behind_slots: set[tuple[str, int]] = set()  # (pool, second): counted once however many waited
    for run in launched:
        t = run.created
        while t < run.starting:
            reason = why_queued(run, t, runs, limits, pool_cap)
            reasons[reason] += 1
            if reason.startswith("run slots"):
                key = reason.split(": ", 1)[1]
                for other in runs:
                    if other is not run and other.tags.get(key) == run.tags.get(key):
                        state = other.state(t)
                        if state is not None:
                            holders[reason][state] += 1
                for pool in run.root_pools:
                    if not any(o.state(t) == f"working in {pool}" for o in runs):
                        idle_behind_slots.add((pool, int(t)))
            t += 1.0
    total = sum(reasons.values()) or 1
    print(f"\nqueued run-seconds ({total}) by what held them back:")
    for reason, seconds in reasons.most_common():
        print(f"  {seconds / total:5.1%}  {seconds:6d} s  {reason}")
    for reason, states in holders.items():
        held = sum(states.values()) or 1
        print(f"  while '{reason}' held runs back, its slots' holders were (slot-seconds):")
        for state, seconds in states.most_common():
            print(f"    {seconds / held:5.1%}  {state}")

    if launched:
        t0 = min(r.created for r in runs)
        t1 = max(r.end or r.start or r.starting or r.created for r in runs)
        window = max(1.0, t1 - t0)
        busy: Counter[str] = Counter()
        for run in runs:
            for a, b, pool in run.working:
                if pool:
                    busy[pool] += b - a
        print(
            f"\npools over the {window:.0f} s window: busy share; idle while a run needing it first sat behind a run-slot limit"
        )
        for pool in sorted(busy):
            print(
                f"  {pool:20s} busy {busy[pool] / window:5.1%}   idle-behind-slots {sum(1 for p, _ in idle_behind_slots if p == pool):5d} s"
            )


if __name__ == "__main__":
    main()
