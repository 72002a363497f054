"""The rehearsal's CPU meter: real processes burn real CPU, and the meter puts it where it belongs
(the daemon's run workers apart from the daemon, a sandbox's group under its name), counting only
what was spent inside its window."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from sync_pipeline.rehearsal import cpu as cpu_module
from sync_pipeline.rehearsal.cpu import (
    CpuMeter,
    by_job,
    cpu_before,
    markdown_lines,
    parse_machine,
    role_of,
)
from sync_pipeline.rehearsal.report import limits
from sync_pipeline.run_workers.identity import parse_stat

pytestmark = pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux /proc only")

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"
# A group leader that idles while its spawn child (a run worker, as Dagster 1.13 starts them) burns.
DAEMON = """
import multiprocessing, sys, time
def work():
    end = time.process_time() + 0.6
    while time.process_time() < end: pass
    time.sleep(1.0)  # a run worker's last moments are idle; on a loaded machine samples come late
if __name__ == "__main__":
    print("up", flush=True)
    sys.stdin.readline()
    child = multiprocessing.get_context("spawn").Process(target=work)
    child.start()
    child.join()
    print("done", flush=True)
    time.sleep(30)
"""


def _start(code: str, script: Path | None = None) -> subprocess.Popen[str]:
    """`code` as `python -c`, or from `script` (a spawn child must find its function in a file)."""
    if script is not None:
        script.write_text(code, encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(script)] if script is not None else [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[str]) -> None:
    subprocess.run(["pkill", "-KILL", "-g", str(process.pid)], check=False)
    process.kill()
    process.wait()


def test_cpu_is_put_on_the_process_that_spent_it_and_only_inside_the_window(tmp_path: Path) -> None:
    # Burns 0.4 s before the meter starts, then idles: none of it is the peak's.
    early = _start(BURN.format(seconds=0.4) + "print('burnt', flush=True)\nimport time; time.sleep(30)\n")
    daemon = _start(DAEMON, tmp_path / "daemon.py")
    try:
        assert early.stdout is not None and daemon.stdout is not None
        assert early.stdout.readline().strip() == "burnt"
        assert daemon.stdout.readline().strip() == "up"
        shopify: subprocess.Popen[str] | None = None
        groups = [("receiver", early.pid), ("dagster-daemon-1", daemon.pid)]
        meter = CpuMeter(lambda: groups, interval=0.1).start()
        shopify = _start(BURN.format(seconds=0.4) + "import time; time.sleep(30)\n")
        groups.append(("shopify", shopify.pid))
        assert daemon.stdin is not None
        daemon.stdin.write("go\n")
        daemon.stdin.flush()
        assert daemon.stdout.readline().strip() == "done"
        time.sleep(0.6)  # the sandbox's burn is done too
        cpu = meter.stop()
        workers = meter.worker_samples()
    finally:
        for process in (early, daemon, shopify):
            if process is not None:
                _stop(process)

    roles = cpu["by_role"]
    assert roles["run workers"]["processes"] == 1
    assert 0.5 <= roles["run workers"]["core_s"] <= 1.5
    assert cpu["run_worker_mean_core_s"] == pytest.approx(roles["run workers"]["core_s"], abs=0.06)
    assert 0.3 <= roles["Shopify sandbox"]["core_s"] <= 1.2
    assert roles["webhook receiver"]["core_s"] < 0.15  # its 0.4 s were spent before the window
    assert roles["dagster daemon"]["core_s"] < 0.3  # it only waited for its child
    assert cpu["busy_core_s"] >= roles["run workers"]["core_s"] + roles["Shopify sandbox"]["core_s"] - 0.2
    assert 0 < cpu["busy_share"] <= 1
    # The stand-ins (the Shopify sandbox, and this process as the rehearsal's) apart from the
    # product's own processes.
    stand_ins = ("Shopify sandbox", "rehearsal (sale, watchers, Peoplevox sandbox)")
    assert cpu["stand_ins_core_s"] == pytest.approx(
        sum(roles.get(r, {}).get("core_s", 0) for r in stand_ins), abs=0.11
    )
    product = sum(e["core_s"] for r, e in roles.items() if r not in stand_ins)
    assert cpu["product_core_s"] == pytest.approx(product, abs=0.15)
    assert cpu["capacity_core_s"] == pytest.approx(cpu["window_s"] * cpu["cpus"], abs=0.2)
    [[samples]] = workers.values()  # the one run worker, sampled as it burnt
    assert samples[-1][1] == pytest.approx(roles["run workers"]["core_s"], abs=0.1)
    assert [at for at, _ in samples] == sorted(at for at, _ in samples)
    table = "\n".join(markdown_lines(cpu))
    assert "| run workers |" in table and "| Shopify sandbox |" in table and "other (outside" in table


def test_stat_lines_parse_with_spaces_and_brackets_in_the_name() -> None:
    line = "4242 (dagster (api) x) S 1 4200 4200 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 98765 0 0"
    stat = parse_stat(line)
    assert (stat.pgid, stat.cpu_ticks, stat.started_ticks) == (4200, 300, 98765)
    assert stat.name == "dagster (api) x"
    assert parse_machine("cpu  100 5 20 800 50 1 2 3 0 0\ncpu0 1 2 3 4\n") == (131, 981)


def test_roles_in_the_daemon_group_and_elsewhere() -> None:
    spawn = "python -c from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5) --multiprocessing-fork"
    assert role_of("dagster-daemon-2", 10, 10, "dagster-daemon run") == "dagster daemon"
    assert role_of("dagster-daemon-2", 11, 10, spawn) == "run workers"
    assert role_of("dagster-daemon-2", 12, 10, "dagster api grpc --lazy-load-user-code") == "code server"
    assert (
        role_of("dagster-daemon-2", 15, 10, "tail -F -c +0 /tmp/x/compute_logs/ab.out")
        == "compute-log mirrors"
    )
    watcher = "/venv/bin/python /venv/lib/dagster/_core/execution/scripts/watch_orphans.py 11 16"
    assert role_of("dagster-daemon-2", 17, 10, watcher) == "compute-log mirrors"
    assert role_of("dagster-daemon-2", 18, 10, "python -m dagster api execute_step {}") == "step processes"
    assert role_of("shopify", 13, 13, "sync-pipeline sandbox shopify") == "Shopify sandbox"
    assert role_of("something-new", 14, 14, "x") == "something-new"
    # Warm run workers and their zygote share a command line; their names tell them apart.
    zygote = "/venv/bin/python -m sync_pipeline.run_workers.zygote sync_pipeline.definitions:defs"
    assert role_of("dagster-daemon-2", 19, 10, zygote, "sync-zygote") == "warm run-worker parent"
    assert role_of("dagster-daemon-2", 20, 10, zygote, "sync-run-worker") == "run workers"
    # The code location's own code server (the rehearsal's, as `dg dev` and a deployment run one):
    # the proxy and the server it starts are the code server; a run it starts cold is a run worker.
    assert role_of("dagster-code-server", 30, 30, "dagster code-server start -m x") == "code server"
    assert role_of("dagster-code-server", 31, 30, "dagster api grpc --lazy-load-user-code") == "code server"
    assert role_of("dagster-code-server", 32, 30, spawn) == "run workers"


def test_the_nearest_ceiling_is_named_and_a_missing_cpu_figure_is_left_out() -> None:
    figures = {
        "cpu": {"busy_share": 0.97},
        "shopify": {"budget_used": 0.72},
        "peoplevox": {"share_of_limiter": 0.41},
    }
    assert limits(figures)["nearest"] == "CPU (machine busy)"
    figures["cpu"] = {}
    assert limits(figures)["nearest"] == "Shopify (points ÷ restore rate)"
    assert markdown_lines({}) == ["CPU: not measured (no /proc on this machine, or no time to measure)."]
    assert markdown_lines({"capacity_core_s": 0.0, "busy_share": None}) == markdown_lines({})


def test_a_jobs_runs_are_summed_and_their_start_up_is_the_cpu_before_their_steps_began() -> None:
    workers = {
        11: [[(100.0, 1.0), (101.0, 2.5), (102.0, 4.0)]],
        12: [[(200.0, 2.0), (201.0, 3.0)]],
        13: [[(300.0, 0.5)]],
    }
    runs = [
        ("despatches_job", 11, 101.2),
        ("despatches_job", 12, 200.5),
        ("stock_changes_job", 13, None),  # never began its steps: counted, no start-up figure
        ("orders_release_job", None, 50.0),  # its worker was never seen: left out
    ]
    jobs = by_job(workers, runs)
    assert jobs["despatches_job"] == {
        "runs_measured": 2,
        "core_s": 7.0,
        "mean_core_s": 3.5,
        "mean_start_up_core_s": 2.25,
    }
    assert jobs["stock_changes_job"]["mean_start_up_core_s"] is None
    assert "orders_release_job" not in jobs
    assert list(jobs) == ["despatches_job", "stock_changes_job"]  # most CPU first
    assert cpu_before(workers[11][0], 99.0) is None and cpu_before(workers[11][0], 102.0) == 4.0
    cpu = {
        "window_s": 10.0, "cpus": 2, "capacity_core_s": 20.0, "busy_core_s": 10.0, "busy_share": 0.5,
        "by_role": {}, "other_core_s": 1.0, "run_worker_mean_core_s": 3.5, "run_workers_by_job": jobs,
    }  # fmt: skip
    assert "| despatches_job | 2 | 7.0 | 3.5 | 2.25 |" in "\n".join(markdown_lines(cpu))


SPAWN = b"python\0-c\0from multiprocessing.spawn import spawn_main; spawn_main()\0--multiprocessing-fork\0"


def _fake_process(
    root: Path, pid: int, ppid: int, pgid: int, ticks: int, started: int, cmdline: bytes, name: str = "python"
) -> None:
    """A `/proc/PID` with the fields the meter reads (state ppid pgrp … utime stime … starttime)."""
    d = root / str(pid)
    d.mkdir(exist_ok=True)
    rest = ["S", str(ppid), str(pgid), *["0"] * 8, str(ticks), "0", *["0"] * 6, str(started), "0", "0"]
    (d / "stat").write_text(f"{pid} ({name}) " + " ".join(rest) + "\n")
    (d / "cmdline").write_bytes(cmdline)


def test_a_pid_handed_out_again_is_another_process_and_a_workers_spawn_child_is_a_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu_module, "PROC", tmp_path)
    (tmp_path / "uptime").write_text("1000.00 0.00\n")
    (tmp_path / "stat").write_text("cpu  0 0 0 0 0 0 0 0 0 0\n")
    _fake_process(tmp_path, 100, 1, 100, 0, 1, b"dagster-daemon\0run\0")
    meter = CpuMeter(lambda: [("dagster-daemon-1", 100)], interval=3600).start()
    tick = meter._tick
    _fake_process(tmp_path, 500, 100, 100, 3 * tick, 1000 * tick + 5, SPAWN)  # a run worker: 3 core-s
    _fake_process(tmp_path, 501, 500, 100, 2 * tick, 1000 * tick + 6, SPAWN)  # its step process: 2 core-s
    meter._sample()
    first_seen = time.time()
    (tmp_path / "501" / "stat").unlink()
    _fake_process(tmp_path, 500, 100, 100, 1 * tick, 1000 * tick + 50, SPAWN)  # pid 500 again: 1 core-s
    time.sleep(0.05)
    meter._sample()
    (tmp_path / "stat").write_text(f"cpu  {10 * tick} 0 0 0 0 0 0 0 0 0\n")
    figures = meter.stop()
    assert (figures["by_role"]["run workers"]["processes"], figures["by_role"]["run workers"]["core_s"]) == (
        2,
        4.0,
    )
    assert figures["by_role"]["step processes"]["core_s"] == 2.0
    series = meter.worker_samples()[500]
    assert [s[-1][1] for s in series] == [3.0, 1.0]  # oldest first
    # Which process ran a run is told by when its steps began; unknown, it cannot be told.
    assert by_job(meter.worker_samples(), [("a_job", 500, first_seen - 0.01)])["a_job"]["core_s"] == 3.0
    assert by_job(meter.worker_samples(), [("a_job", 500, None)]) == {}


def test_a_warm_worker_seen_before_it_named_itself_counts_as_a_run_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cpu_module, "PROC", tmp_path)
    (tmp_path / "uptime").write_text("1000.00 0.00\n")
    (tmp_path / "stat").write_text("cpu  0 0 0 0 0 0 0 0 0 0\n")
    zygote = b"python\0-m\0sync_pipeline.run_workers.zygote\0sync_pipeline.definitions:defs\0"
    _fake_process(tmp_path, 100, 1, 100, 0, 1, b"dagster-daemon\0run\0")
    meter = CpuMeter(lambda: [("dagster-daemon-1", 100)], interval=3600).start()
    tick = meter._tick
    _fake_process(tmp_path, 300, 100, 100, 1 * tick, 1000 * tick + 2, zygote, "sync-zygote")
    _fake_process(tmp_path, 301, 300, 100, 0, 1000 * tick + 9, zygote, "sync-zygote")  # just forked
    meter._sample()
    _fake_process(tmp_path, 301, 300, 100, 4 * tick, 1000 * tick + 9, zygote, "sync-run-worker")
    meter._sample()
    figures = meter.stop()
    workers = figures["by_role"]["run workers"]
    assert (workers["core_s"], workers["processes"]) == (4.0, 1)
    assert figures["by_role"]["warm run-worker parent"]["core_s"] == 1.0
