"""Where the machine's CPU went during the peak: each process of the stack, by what it is.

On a small machine the rehearsal meets the CPU before any API budget: sessions 7-14 saw every
job's runs queue for start-up while neither Shopify's bucket nor Peoplevox's limiter was full.
To say which limit binds from the run itself, a thread samples `/proc` twice a second over the
peak: the machine's busy time, and each process's CPU time, by the stack child whose process
group it is in (each child has its own, `stack.Stack.start`). Within the daemon's group the daemon
itself and the run workers it forks are told apart; within the code server's, the code server and
any run it starts (`--cold-run-workers`).

What it cannot see: a process's CPU after its last sample before it exits (at most one interval,
0.5 s, per process: run workers live tens of seconds), and which thread of this process did the
work (the load generators and the in-process Peoplevox sandbox count together). Whatever the
machine spent outside the stack (another tenant, a test suite) is `other`. Linux only: elsewhere
the meter reports nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync_pipeline.run_workers.identity import WORKER_NAME as WARM_WORKER_NAME
from sync_pipeline.run_workers.identity import ZYGOTE_NAME, parse_stat

PROC = Path("/proc")
SELF = "rehearsal (sale, watchers, Peoplevox sandbox)"
RUN_WORKERS = "run workers"
STEPS = "step processes"
ZYGOTE = "warm run-worker parent"
CODE_SERVER = "dagster-code-server"  # the stack child serving the code location (`stack.code_server_command`)
# Roles that stand in for Shopify, Peoplevox and the shoppers: in production not on this machine.
STAND_INS = frozenset({"Shopify sandbox", SELF})
# Stack children by the name `Stack.start` gave them.
GROUP_ROLES = {
    "shopify": "Shopify sandbox",
    "receiver": "webhook receiver",
    "dagster-webserver": "Dagster UI",
}


def parse_machine(text: str) -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs from `/proc/stat`; idle and iowait are not busy."""
    values = [int(x) for x in text.splitlines()[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - values[3] - values[4], total


def read_cmdline(entry: Path) -> str:
    """A `/proc/PID` entry's command line, arguments joined by spaces."""
    return (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()


def is_run_worker(cmdline: str, name: str = "") -> bool:
    """A run worker forked warm (`run_workers.zygote`: it names itself `sync-run-worker` and keeps
    the zygote's command line), one of Dagster 1.13's code server (a `multiprocessing` spawn child,
    command line `… spawn_main(…) --multiprocessing-fork`) or of older releases and runs launched
    outside a code server (`dagster api execute_run`): all count. Matching only the last once left
    the rehearsal's kill_run_worker fault finding nothing to kill."""
    if name == WARM_WORKER_NAME:
        return True
    if name == ZYGOTE_NAME:
        return False
    return "execute_run" in cmdline or ("spawn_main" in cmdline and "--multiprocessing-fork" in cmdline)


def role_of(group: str, pid: int, pgid: int, cmdline: str, name: str = "") -> str:
    """What a process of stack child `group` is, for the report."""
    if group.startswith("dagster-daemon"):
        if pid == pgid:
            return "dagster daemon"
        if is_run_worker(cmdline, name):
            return RUN_WORKERS
        if name == ZYGOTE_NAME:
            return ZYGOTE
        if "execute_step" in cmdline:
            return STEPS  # the multiprocess executor's, one a step (older releases' command line)
        if cmdline.startswith("tail -F") or "watch_orphans" in cmdline:
            # Dagster's local compute log manager mirrors each step's stdout and stderr through a
            # `tail -F` and a Python watcher each: four processes a step.
            return "compute-log mirrors"
        return "code server"
    if group == CODE_SERVER:
        # The proxy and the server it starts; with `--cold-run-workers` it also starts every run.
        return RUN_WORKERS if is_run_worker(cmdline, name) else "code server"
    return GROUP_ROLES.get(group, group)


class CpuMeter:
    """Samples the machine and the stack's processes from `start` to `stop` on a thread.

    `groups` returns the stack's children as (name, process group id), asked at every sample
    because the daemon may be replaced mid-sale (its new group counts as the same roles)."""

    def __init__(self, groups: Callable[[], list[tuple[str, int]]], interval: float = 0.5) -> None:
        self._groups = groups
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cpu-meter", daemon=True)
        self._lock = threading.Lock()
        # A process is (pid, start time): a pid the kernel hands out again is another process.
        self._seen: dict[tuple[int, int], list[Any]] = {}  # → [role, CPU ticks at the start, last]
        self._role_now: dict[int, str] = {}  # pid → role, of the processes alive at the last sample
        # Run workers' CPU over time, → [(time.time(), core-s)]: what a run spent before its first
        # step (start-up) is read against the moment Dagster says it began executing.
        self._workers: dict[tuple[int, int], list[tuple[float, float]]] = {}
        self._machine_start = (0, 0)
        self._machine_end = (0, 0)
        self._start_ticks = 0
        self._started = 0.0
        self._seconds = 0.0
        self._tick = 100
        self.available = (PROC / "stat").exists() and hasattr(os, "sysconf")

    def start(self) -> CpuMeter:
        if not self.available:
            return self
        self._tick = os.sysconf("SC_CLK_TCK")
        self._start_ticks = int(float((PROC / "uptime").read_text().split()[0]) * self._tick)
        self._machine_start = parse_machine((PROC / "stat").read_text())
        self._started = time.monotonic()
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        """Stop sampling; the figures (empty where `/proc` is not there)."""
        if not self.available:
            return {}
        self._stop.set()
        self._thread.join(timeout=10)
        self._sample()
        self._machine_end = parse_machine((PROC / "stat").read_text())
        self._seconds = time.monotonic() - self._started
        return self.figures()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        groups = {pgid: name for name, pgid in self._groups()}
        own = os.getpid()
        roles_now: dict[int, str] = {}
        for entry in sorted(PROC.iterdir(), key=_pid_order):
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                stat = parse_stat((entry / "stat").read_text())
                if pid == own:
                    role = SELF
                elif stat.pgid in groups:
                    role = role_of(groups[stat.pgid], pid, stat.pgid, read_cmdline(entry), stat.name)
                    parent = roles_now.get(stat.ppid) or self._role_now.get(stat.ppid)
                    if role == RUN_WORKERS and parent in (RUN_WORKERS, STEPS):
                        role = STEPS  # the multiprocess executor's step processes are spawn children too
                else:
                    continue
            except (OSError, ValueError, IndexError):
                continue  # exited between the listing and the read
            roles_now[pid] = role
            key = (pid, stat.started_ticks)
            with self._lock:
                if role == RUN_WORKERS:
                    self._workers.setdefault(key, []).append((time.time(), stat.cpu_ticks / self._tick))
                known = self._seen.get(key)
                if known is None:
                    # Started within the window: all its CPU counts; else only what it spends from now.
                    base = 0 if stat.started_ticks >= self._start_ticks else stat.cpu_ticks
                    self._seen[key] = [role, base, stat.cpu_ticks]
                else:
                    known[2] = max(known[2], stat.cpu_ticks)
                    if role == RUN_WORKERS:
                        # A warm worker has its zygote's name for the instant after the fork, before
                        # it names itself: seen then, all its CPU would count as the zygote's.
                        known[0] = role
        self._role_now = roles_now

    def figures(self) -> dict[str, Any]:
        cpus = os.cpu_count() or 1
        capacity = self._seconds * cpus
        busy_ticks = self._machine_end[0] - self._machine_start[0]
        busy = busy_ticks / self._tick
        by_role: dict[str, dict[str, float]] = {}
        with self._lock:
            for role, base, last in self._seen.values():
                entry = by_role.setdefault(role, {"core_s": 0.0, "processes": 0})
                entry["core_s"] += (last - base) / self._tick
                entry["processes"] += 1
        workers = by_role.get(RUN_WORKERS)
        stack_total = sum(e["core_s"] for e in by_role.values())
        shares = {
            role: {
                "core_s": round(e["core_s"], 1),
                "share_of_machine": round(e["core_s"] / capacity, 3) if capacity else None,
                "processes": int(e["processes"]),
            }
            for role, e in sorted(by_role.items(), key=lambda kv: -kv[1]["core_s"])
        }
        return {
            "window_s": round(self._seconds, 1),
            "cpus": cpus,
            "capacity_core_s": round(capacity, 1),
            "busy_core_s": round(busy, 1),
            # At most 1: the machine's ticks and the window's clock are read a moment apart, and
            # on a saturated machine the ratio came out 1.002.
            "busy_share": round(min(1.0, busy / capacity), 3) if capacity else None,
            "by_role": shares,
            "other_core_s": round(max(0.0, busy - stack_total), 1),
            # The product's own processes (receiver, daemon, code server, run workers), the UI aside.
            "product_core_s": round(
                sum(e["core_s"] for r, e in by_role.items() if r not in STAND_INS and r != "Dagster UI"), 1
            ),
            "stand_ins_core_s": round(sum(e["core_s"] for r, e in by_role.items() if r in STAND_INS), 1),
            "run_worker_mean_core_s": round(workers["core_s"] / workers["processes"], 2) if workers else None,
            "sample_interval_s": self._interval,
        }

    def worker_samples(self) -> dict[int, list[list[tuple[float, float]]]]:
        """Each run worker's CPU over time: pid → one [(epoch seconds, core-s so far)] per process
        that had the pid (the kernel may hand a pid out again), oldest first."""
        with self._lock:
            out: dict[int, list[list[tuple[float, float]]]] = {}
            for (pid, _), samples in sorted(self._workers.items(), key=lambda kv: kv[0][1]):
                out.setdefault(pid, []).append(list(samples))
            return out


def _pid_order(entry: Path) -> int:
    """Pids in ascending order (a parent is usually listed before its children); others last."""
    return int(entry.name) if entry.name.isdigit() else 1 << 62


def cpu_before(samples: list[tuple[float, float]], moment: float) -> float | None:
    """A process's CPU at its last sample at or before `moment` (None: none that early). Sampled
    every half second, so it undercounts by at most what half a second holds."""
    known = [core_s for at, core_s in samples if at <= moment]
    return known[-1] if known else None


def _series_for(
    series: list[list[tuple[float, float]]], executing_at: float | None
) -> list[tuple[float, float]] | None:
    """Of the processes that had a run's worker pid, the one alive when its steps began (the only
    one when that moment is unknown; none when it cannot be told)."""
    if executing_at is not None:
        for samples in series:
            if samples[0][0] <= executing_at + 1.0 and samples[-1][0] >= executing_at - 1.0:
                return samples
        return None
    return series[0] if len(series) == 1 else None


def by_job(
    workers: dict[int, list[list[tuple[float, float]]]], runs: list[tuple[str, int | None, float | None]]
) -> dict[str, dict[str, Any]]:
    """Run workers' CPU per job: `runs` is (job, worker pid, when its steps began executing) per
    run. Mean core-s a run, and of it the start-up (before its first step: imports, loading the
    definitions, opening the instance)."""
    totals: dict[str, list[float]] = {}
    startups: dict[str, list[float]] = {}
    for job, pid, executing_at in runs:
        samples = _series_for(workers.get(pid or -1) or [], executing_at)
        if not samples:
            continue
        totals.setdefault(job, []).append(samples[-1][1])
        before = cpu_before(samples, executing_at) if executing_at else None
        if before is not None:
            startups.setdefault(job, []).append(before)
    return {
        job: {
            "runs_measured": len(values),
            "core_s": round(sum(values), 1),
            "mean_core_s": round(sum(values) / len(values), 2),
            "mean_start_up_core_s": (
                round(sum(startups[job]) / len(startups[job]), 2) if startups.get(job) else None
            ),
        }
        for job, values in sorted(totals.items(), key=lambda kv: -sum(kv[1]))
    }


def markdown_lines(cpu: dict[str, Any]) -> list[str]:
    """The report's CPU section: how busy the machine was and who used it."""
    if not cpu or not cpu.get("capacity_core_s"):
        return ["CPU: not measured (no /proc on this machine, or no time to measure)."]
    lines = [
        f"CPU over the peak ({cpu['window_s']:,.0f} s × {cpu['cpus']} CPUs = {cpu['capacity_core_s']:,.0f} core-s):"
        f" the machine was busy {cpu['busy_share']:.0%} ({cpu['busy_core_s']:,.0f} core-s)"
        + (
            f"; run workers {cpu['run_worker_mean_core_s']} core-s each on average."
            if cpu.get("run_worker_mean_core_s") is not None
            else "."
        ),
        "",
        "| process | core-s | share of the machine | processes |",
        "|---|---|---|---|",
        *(
            f"| {role} | {e['core_s']:,.1f} | {e['share_of_machine']:.1%} | {e['processes']} |"
            for role, e in cpu["by_role"].items()
        ),
        f"| other (outside the rehearsal) | {cpu['other_core_s']:,.1f} |"
        f" {cpu['other_core_s'] / cpu['capacity_core_s']:.1%} | |",
    ]
    if cpu.get("product_cores_to_keep_pace") is not None:
        lines += [
            "",
            f"The product's own processes used {cpu['product_core_s']:,.0f} core-s and the stand-ins for Shopify,"
            f" Peoplevox and the shoppers {cpu['stand_ins_core_s']:,.0f}. Done as fast as the sale made it, the"
            f" product's work would take **{cpu['product_cores_to_keep_pace']} cores** for the sale's"
            f" {cpu['sale_s']:,.0f} s (its core-s ÷ the sale's length: an estimate that also counts work"
            " that grows with time rather than with the sale, such as sensor ticks, so it errs high).",
        ]
    jobs = cpu.get("run_workers_by_job") or {}
    if jobs:
        lines += [
            "",
            "| job | runs measured | run workers' core-s | mean a run | of which start-up |",
            "|---|---|---|---|---|",
            *(
                f"| {job} | {j['runs_measured']} | {j['core_s']:,.1f} | {j['mean_core_s']} |"
                f" {j['mean_start_up_core_s']} |"
                for job, j in jobs.items()
            ),
        ]
    return lines
