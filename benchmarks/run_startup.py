"""Run start-up through the real daemon: creation -> STARTING -> RUN_START, two variants alternated.

Each round starts `dagster-daemon run` (run queue, run launcher, the code server that spawns every
run's process) in a fresh DAGSTER_HOME with one variant's dagster.yaml, waits for its run queue to
beat, submits a burst of runs of a small job (the way a sensor does: created QUEUED), and times
each run from its creation to STARTING (the queue: the daemon's pass interval, launches one after
another) and from STARTING to RUN_START (the launch: the code server spawns the worker, which
imports Dagster and our code and loads the definitions). Rounds alternate baseline and candidate,
so machine load falls on both alike; the figures are printed as candidate / baseline.

Variants: the candidate is the repo's dagster.yaml and code; the baseline is `--baseline-yaml`
(default: the repo's dagster.yaml without its `run_queue` section, i.e. Dagster's serial launches
every 5 s) and `--baseline-code` (another checkout, e.g. `git worktree add /tmp/base main`, whose
code the daemon's code server and run workers load: it is their working directory and first on
PYTHONPATH; default: this one). Pools are opened wide in the temporary
instance so no run waits for a pool slot: this measures the queue and the launch, nothing else.
No sensor or schedule runs (SYNC_FLOWS=none); runs read an empty ledger.

    .venv/bin/python benchmarks/run_startup.py --rounds 3 --burst 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg
import yaml
from dagster._cli.job import _create_run
from dagster._core.events import DagsterEventType
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget

from sync_pipeline.rehearsal.stack import BIN, Ports, Stack, Workdir, environment, log
from sync_pipeline.settings import REPO_ROOT

POOLS = (
    "duckdb",
    "shopify_backfill",
    *(f"shopify_{flow}" for flow in ("orders", "fulfil", "stock", "finance", "catalogue")),
    *(f"peoplevox_{flow}" for flow in ("orders", "stock", "despatches", "finance", "catalogue")),
)


def without_run_queue(source: Path, target: Path) -> None:
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    config.pop("run_queue", None)
    target.write_text(yaml.safe_dump(config), encoding="utf-8")


def _timings(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    seen: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        kind = entry.dagster_event.event_type if entry.dagster_event else None
        for name, wanted in (
            ("created", DagsterEventType.PIPELINE_ENQUEUED),
            ("starting", DagsterEventType.PIPELINE_STARTING),
            ("start", DagsterEventType.PIPELINE_START),
        ):
            if kind == wanted and name not in seen:
                seen[name] = entry.timestamp
    return seen


def one_round(
    name: str, dagster_yaml: Path, code: Path, job: str, burst: int, root: Path
) -> list[dict[str, float]]:
    work = Workdir(root / name)
    work.prepare(hold_seconds=30)
    shutil.copy(dagster_yaml, work.dagster_home / "dagster.yaml")
    env = environment(work, Ports(), 15, 15.0)
    env["SYNC_FLOWS"] = "none"
    if code != REPO_ROOT:
        env["PYTHONPATH"] = str(code)
    workspace = code / "workspace.yaml"  # a python_module target: the code of the working directory
    saved, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)  # this process's own code server (creating runs) loads the same code
    os.chdir(code)
    stack = Stack(work, env)
    try:
        with dg.DagsterInstance.get() as instance:
            for pool in POOLS:
                instance.event_log_storage.set_concurrency_slots(pool, 100)
            stack.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], cwd=code)
            deadline = time.monotonic() + 180
            while not instance.get_daemon_heartbeats().get("QUEUED_RUN_COORDINATOR"):
                stack.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("the daemon's run queue never beat")
                time.sleep(0.5)
            time.sleep(3.0)  # past the first pass, which loads the workspace
            target = WorkspaceFileTarget(paths=[str(workspace)])
            with WorkspaceProcessContext(instance, target) as process_context:
                context = process_context.create_request_context()
                location = context.get_code_location("sync_pipeline")
                repo = location.get_repository("__repository__")
                remote = repo.get_full_job(job)
                run_ids = []
                for _ in range(burst):
                    run = _create_run(
                        instance=instance,
                        code_location=location,
                        remote_repo=repo,
                        remote_job=remote,
                        run_config={},
                        tags={"bench": name},
                        op_selection=None,
                        run_id=None,
                    )
                    instance.submit_run(run.run_id, context)
                    run_ids.append(run.run_id)
            deadline = time.monotonic() + 300
            while True:
                runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
                if all(run is not None and run.is_finished for run in runs):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name}: runs not finished within 300 s")
                time.sleep(1.0)
            return [_timings(instance, run_id) for run_id in run_ids]
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        os.chdir(saved_cwd)


def summary(rows: list[dict[str, float]]) -> dict[str, float]:
    def mean(a: str, b: str) -> float:
        return statistics.fmean(r[b] - r[a] for r in rows if a in r and b in r)

    return {
        "queued": mean("created", "starting"),
        "launch": mean("starting", "start"),
        "total": mean("created", "start"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant (alternated)")
    parser.add_argument("--burst", type=int, default=3, help="runs submitted at once per round")
    parser.add_argument("--job", default="ops_exceptions_job")
    parser.add_argument("--baseline-yaml", type=Path)
    parser.add_argument("--baseline-code", type=Path, default=REPO_ROOT)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="run-startup-"))
    baseline_yaml = args.baseline_yaml
    if baseline_yaml is None:
        baseline_yaml = root / "baseline-dagster.yaml"
        without_run_queue(REPO_ROOT / "dagster.yaml", baseline_yaml)
    variants = {
        "baseline": (baseline_yaml, args.baseline_code),
        "candidate": (REPO_ROOT / "dagster.yaml", REPO_ROOT),
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    loads = [os.getloadavg()[0]]
    try:
        for index in range(args.rounds):
            order = list(variants) if index % 2 == 0 else list(reversed(variants))
            for name in order:
                rows = one_round(f"{name}-{index}", *variants[name], args.job, args.burst, root)
                results[name] += rows
                figures = summary(rows)
                log(
                    f"{name} round {index + 1}: "
                    + ", ".join(f"{k} {v:.1f} s" for k, v in figures.items())
                    + f" (load {os.getloadavg()[0]:.1f})"
                )
                loads.append(os.getloadavg()[0])
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    base, cand = summary(results["baseline"]), summary(results["candidate"])
    print(
        f"\n{args.rounds} rounds x {args.burst} runs of {args.job} per variant; "
        f"load average {min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} CPUs"
    )
    print(f"{'mean seconds':28s} {'baseline':>9s} {'candidate':>9s} {'ratio':>6s}")
    for key, label in (
        ("queued", "creation -> STARTING"),
        ("launch", "STARTING -> RUN_START"),
        ("total", "creation -> RUN_START"),
    ):
        print(f"{label:28s} {base[key]:9.2f} {cand[key]:9.2f} {cand[key] / base[key]:6.2f}")


if __name__ == "__main__":
    main()
