"""The warm run launcher under a real Dagster daemon: runs forked warm succeed, a killed worker
fails its run at once (and run retries take it), cancelling interrupts the worker, a code change
reaches the next run, and workers outlive a daemon that stops, one dying meanwhile being found by
run monitoring. The code location is a small package written per test module, so that the test
can change its code; the product's own definitions go through the same launcher in every
rehearsal test (dagster.yaml)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest
import yaml

from sync_pipeline.rehearsal.stack import run_workers
from sync_pipeline.run_workers.identity import WORKER_TAG, WorkerId, parse_stat, started_ticks

BIN = Path(sys.executable).parent

JOB_CODE = """
import os
import time
from pathlib import Path

import dagster as dg

MARK = "{mark}"
BUILDS = Path(__file__).parent / "builds.txt"


@dg.op(config_schema={{"sleep": float, "out": str}}, pool="warmfix_pool")
def work(context: dg.OpExecutionContext) -> None:
    Path(context.op_config["out"]).write_text(f"{{MARK}} {{os.getpid()}}")
    print(f"{{MARK}} printed by {{os.getpid()}}", flush=True)
    time.sleep(context.op_config["sleep"])


@dg.job(executor_def=dg.in_process_executor)
def work_job() -> None:
    work()


@dg.definitions
def defs() -> dg.Definitions:
    with BUILDS.open("a") as builds:  # which processes build the definitions
        builds.write(f"{{os.getpid()}}\\n")
    return dg.Definitions(jobs=[work_job])
"""


@dataclass
class Stack:
    root: Path
    home: Path
    workspace: Path
    env: dict[str, str]
    instance: dg.DagsterInstance
    daemon: subprocess.Popen[bytes] | None = None

    def start_daemon(self) -> None:
        log = (self.root / "daemon.log").open("ab")
        self.daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(self.workspace)],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_daemon(self, sig: int = signal.SIGTERM) -> None:
        assert self.daemon is not None
        os.kill(self.daemon.pid, sig)
        self.daemon.wait(timeout=60)

    def write_code(self, mark: str) -> None:
        package = self.root / "warmfix"
        package.mkdir(exist_ok=True)
        (package / "__init__.py").write_text("")
        (package / "defs.py").write_text(JOB_CODE.format(mark=mark))

    def launch(self, sleep: float, out: Path) -> str:
        config = {"ops": {"work": {"config": {"sleep": sleep, "out": str(out)}}}}
        result = subprocess.run(
            [
                *(str(BIN / "dagster"), "job", "launch", "-w", str(self.workspace), "-j", "work_job"),
                *("--config-json", json.dumps(config)),
            ],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        runs = self.instance.get_runs(limit=1)
        return runs[0].run_id

    def run(self, run_id: str) -> dg.DagsterRun:
        found = self.instance.get_run_by_id(run_id)
        assert found is not None
        return found

    def messages(self, run_id: str) -> list[str]:
        return [e.message or "" for e in self.instance.all_logs(run_id)]


def wait_for(what: str, condition: Callable[[], object], timeout: float = 120.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("warm_launcher")
    home = root / "home"
    home.mkdir()
    product = yaml.safe_load((Path(__file__).parents[2] / "dagster.yaml").read_text(encoding="utf-8"))
    config = {
        "run_launcher": {**product["run_launcher"], "config": {"preload": "warmfix.defs:defs"}},
        "compute_logs": product["compute_logs"],
        "run_queue": {"dequeue_use_threads": True, "dequeue_interval_seconds": 1},
        # A short poll, so that the test that needs monitoring need not wait 15 s for it.
        "run_monitoring": {"enabled": True, "poll_interval_seconds": 2, "start_timeout_seconds": 120},
        "run_retries": {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False},
        "telemetry": {"enabled": False},
        # One step at a time in the op's pool, as every pool of the product. No
        # `free_slots_after_run_end_seconds`: a slot a killed worker held is given back by the
        # launcher or never.
        "concurrency": {"pools": {"default_limit": 1}},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    workspace = root / "workspace.yaml"
    workspace.write_text(
        yaml.safe_dump(
            {
                "load_from": [
                    {
                        "python_module": {
                            "module_name": "warmfix.defs",
                            "attribute": "defs",
                            "working_directory": str(root),
                            "location_name": "warmfix",
                        }
                    }
                ]
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(root)}
    env.pop("DAGSTER_GRPC_SOCKET", None)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        found = Stack(root, home, workspace, env, instance)
        found.write_code("v1")
        found.start_daemon()
        try:
            yield found
        finally:
            if found.daemon is not None and found.daemon.poll() is None:
                found.stop_daemon()
            # Workers this module left (none when every test passed) go with their group.
            subprocess.run(["pkill", "-KILL", "-f", "sync_pipeline.run_workers.zygote warmfix"], check=False)


def worker_of(stack: Stack, run_id: str) -> WorkerId:
    tag = wait_for("the worker's tag", lambda: stack.run(run_id).tags.get(WORKER_TAG))
    worker = WorkerId.parse(str(tag))
    assert worker is not None
    return worker


def test_a_run_is_forked_warm_and_succeeds(stack: Stack) -> None:
    out = stack.root / "first.txt"
    run_id = stack.launch(0.0, out)
    wait_for("success", lambda: stack.run(run_id).status == dg.DagsterRunStatus.SUCCESS)
    worker = worker_of(stack, run_id)
    mark, pid = out.read_text().split()
    # The step ran in the worker the tag names, which is the process Dagster says ran the run.
    assert (mark, int(pid)) == ("v1", worker.pid)
    assert f"Started process for run (pid: {worker.pid})." in stack.messages(run_id)
    # The worker used the definitions its zygote built: it built none of its own.
    builders = (stack.root / "warmfix" / "builds.txt").read_text().split()
    assert str(worker.pid) not in builders and builders
    # What the step printed is in the run's captured output the UI shows, written without a
    # mirror process (FileComputeLogManager, dagster.yaml).
    captured = [p.read_text() for p in (stack.home / "storage" / run_id).rglob("*.out")]
    assert any(f"v1 printed by {worker.pid}" in text for text in captured), captured


def test_a_killed_worker_fails_its_run_at_once_and_run_retries_take_it(stack: Stack) -> None:
    out = stack.root / "killed.txt"
    run_id = stack.launch(120.0, out)
    wait_for("the step", out.exists)
    worker = worker_of(stack, run_id)
    # Forked from the daemon's zygote, not spawned by the code server.
    stat = parse_stat(Path(f"/proc/{worker.pid}/stat").read_text())
    assert stat.name == "sync-run-worker"
    assert parse_stat(Path(f"/proc/{stat.ppid}/stat").read_text()).name == "sync-zygote"
    # … and the rehearsal's kill_run_worker fault finds it in the daemon's process group.
    assert stack.daemon is not None and worker.pid in run_workers(stack.daemon.pid)
    os.kill(worker.pid, signal.SIGKILL)
    killed = time.monotonic()
    wait_for("failure", lambda: stack.run(run_id).status == dg.DagsterRunStatus.FAILURE, timeout=30)
    assert time.monotonic() - killed < 10  # the zygote saw it exit; no monitoring poll needed
    assert any(
        f"Run worker (pid {worker.pid}) for run {run_id} was terminated by signal 9" in m
        for m in stack.messages(run_id)
    )

    def retry() -> dg.DagsterRun | None:
        for run in stack.instance.get_runs(limit=5):
            if run.tags.get("dagster/parent_run_id") == run_id:
                return run
        return None

    # Its step's pool slot is given back at once (a step frees its own as it ends; a killed
    # worker's never does), so the retry's step, in the same pool of one slot, runs.
    wait_for("its slot back", lambda: run_id not in stack.instance.event_log_storage.get_concurrency_run_ids(),
             timeout=10)  # fmt: skip
    assert any("Gave back the pool slots" in m for m in stack.messages(run_id))
    child = wait_for("the retry", retry)
    assert isinstance(child, dg.DagsterRun)
    # Cancelling it (as the UI does, from another process) interrupts its worker.
    retried = worker_of(stack, child.run_id)
    wait_for("the retry's step", lambda: stack.run(child.run_id).status == dg.DagsterRunStatus.STARTED)
    assert stack.instance.run_launcher.terminate(child.run_id)
    wait_for("cancel", lambda: stack.run(child.run_id).status == dg.DagsterRunStatus.CANCELED, timeout=60)
    wait_for("the worker to exit", lambda: started_ticks(retried.pid) != retried.started_ticks, timeout=30)


def test_a_code_change_reaches_the_next_run(stack: Stack) -> None:
    stack.write_code("v2")
    out = stack.root / "changed.txt"
    run_id = stack.launch(0.0, out)
    wait_for("success", lambda: stack.run(run_id).status == dg.DagsterRunStatus.SUCCESS)
    assert out.read_text().split()[0] == "v2"


def test_workers_outlive_the_daemon_and_monitoring_finds_one_that_died_meanwhile(stack: Stack) -> None:
    # A daemon stopped mid-run: the worker finishes its run without it.
    out = stack.root / "outlives.txt"
    run_id = stack.launch(6.0, out)
    wait_for("the step", out.exists)
    stack.stop_daemon(signal.SIGKILL)
    wait_for("success", lambda: stack.run(run_id).status == dg.DagsterRunStatus.SUCCESS, timeout=60)

    # A worker that dies while no daemon runs is found by the next daemon's run monitoring.
    stack.start_daemon()
    out = stack.root / "orphan.txt"
    run_id = stack.launch(120.0, out)
    wait_for("the step", out.exists)
    worker = worker_of(stack, run_id)
    stack.stop_daemon(signal.SIGKILL)
    os.kill(worker.pid, signal.SIGKILL)
    time.sleep(1.0)
    assert stack.run(run_id).status == dg.DagsterRunStatus.STARTED  # nobody has noticed yet
    stack.start_daemon()
    wait_for("failure", lambda: stack.run(run_id).status == dg.DagsterRunStatus.FAILURE, timeout=90)
    assert any(f"run worker pid {worker.pid}" in m and "is gone" in m for m in stack.messages(run_id))
    wait_for("its slot back", lambda: run_id not in stack.instance.event_log_storage.get_concurrency_run_ids(),
             timeout=10)  # fmt: skip
