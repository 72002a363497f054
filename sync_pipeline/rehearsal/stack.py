"""The product as in production, on 127.0.0.1: child processes and their environment.

Used by `sync-pipeline rehearse` and the benchmarks. Each child runs in its own session (process
group), so stopping it also stops what it started (`dg dev` starts a webserver, a daemon and a
code server; the daemon starts the warm run workers, which share its group). Nothing here
launches Dagster runs: the code location's sensors and schedules do.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.ledger.connection import LOCK_TIMES_ENV
from sync_pipeline.lib.tls import tls_context
from sync_pipeline.rehearsal.cpu import is_run_worker, read_cmdline
from sync_pipeline.run_workers.identity import parse_stat
from sync_pipeline.sandbox.server import free_port
from sync_pipeline.sandbox.shopify.config import SANDBOX_SHOP_DOMAIN
from sync_pipeline.settings import REPO_ROOT

BIN = Path(sys.executable).parent
SHOPIFY_TOKEN = "shpat_sandbox"  # sandbox-only credentials, not secrets of any real system
WEBHOOK_SECRET = "sandbox-webhook-secret"
PEOPLEVOX_PASSWORD = "sandbox-password"
CALLBACK_TOKEN = "benchmark-callback-token-0123456789abcdef"
IN_FLIGHT = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")


@dataclass
class Ports:
    shopify: int = field(default_factory=free_port)
    peoplevox: int = field(default_factory=free_port)
    receiver: int = field(default_factory=free_port)
    dagster: int = field(default_factory=free_port)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"

    @classmethod
    def block(cls, base: int | None) -> Ports:
        """Four consecutive ports from `base` (a session's own block on a shared machine); free ones for None."""
        if base is None:
            return cls()
        return cls(base, base + 1, base + 2, base + 3)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: IO[bytes]


@dataclass
class Workdir:
    root: Path

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def ledger(self) -> Path:
        return self.data / "ledger.duckdb"

    @property
    def ledger_lock_times(self) -> Path:
        """One line a ledger transaction, from every process (`lib/ledger/connection.py`)."""
        return self.logs / "ledger_lock_times.tsv"

    def prepare(
        self, hold_seconds: int, orders: Mapping[str, object] | None = None, cold_run_workers: bool = False
    ) -> None:
        """DAGSTER_HOME with the repo's dagster.yaml (`cold_run_workers`: its run launcher starts
        every run through the code server, the comparison for the warm run workers); a copy of
        data/config with a short hold (and any other top-level `orders.yaml` keys in `orders`,
        e.g. `cutoff_status`)."""
        for path in (self.dagster_home, self.data, self.logs):
            path.mkdir(parents=True, exist_ok=True)
        if cold_run_workers:
            instance = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))
            instance["run_launcher"].setdefault("config", {})["warm"] = False
            (self.dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance), encoding="utf-8")
        else:
            shutil.copy(REPO_ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        shutil.copytree(REPO_ROOT / "data" / "config", self.config)
        path = self.config / "orders.yaml"
        text = path.read_text(encoding="utf-8")
        for key, value in {"hold_window_seconds": hold_seconds, **(orders or {})}.items():
            text, count = re.subn(rf"(?m)^{key}:.*$", f"{key}: {value}  # benchmark", text)
            if not count:
                text += f"\n{key}: {value}  # benchmark\n"
        path.write_text(text, encoding="utf-8")
        load_business_rules(self.config)  # fail now, naming the file


def environment(
    work: Workdir, ports: Ports, requests_per_window: int, window_seconds: float
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SHOPIFY_", "PEOPLEVOX_", "SYNC_", "DAGSTER_"))
    }
    env.update(
        {
            "DAGSTER_HOME": str(work.dagster_home),
            "SYNC_DATA_DIR": str(work.data),
            "SYNC_CONFIG_DIR": str(work.config),
            "SYNC_RECEIVER_PUBLIC_URL": ports.url("receiver"),
            "SYNC_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "SHOPIFY_SHOP_URL": ports.url("shopify"),
            "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
            "SHOPIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SHOPIFY_SHOP_DOMAIN": SANDBOX_SHOP_DOMAIN,
            "SHOPIFY_API_VERSION": "2026-10",
            "PEOPLEVOX_BASE_URL": ports.url("peoplevox"),
            "PEOPLEVOX_CLIENT_ID": "sandbox",
            "PEOPLEVOX_USERNAME": "integration",
            "PEOPLEVOX_PASSWORD": PEOPLEVOX_PASSWORD,
            "PEOPLEVOX_REQUESTS_PER_WINDOW": str(requests_per_window),
            "PEOPLEVOX_WINDOW_SECONDS": f"{window_seconds:g}",
            # Every process records its holds of the ledger's lock (`rehearsal/ledger_lock.py`).
            LOCK_TIMES_ENV: str(work.ledger_lock_times),
        }
    )
    return env


class Stack:
    """Children started in order, stopped in reverse order; `stop` leaves no process behind."""

    def __init__(self, work: Workdir, env: Mapping[str, str]) -> None:
        self.work = work
        self.env = dict(env)
        self.children: list[Child] = []
        self.retired: list[Child] = []  # replaced (a restarted daemon): not watched, still stopped

    def start(self, name: str, command: list[str], cwd: Path = REPO_ROOT) -> Child:
        log = (self.work.logs / f"{name.replace(' ', '_')}.log").open("wb")
        process = subprocess.Popen(
            command,
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child = Child(name, process, log)
        self.children.append(child)
        return child

    def check_alive(self) -> None:
        for child in self.children:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with code {child.process.returncode}; see {child.log.name}"
                )

    def stop_child(self, child: Child, grace: float = 30.0) -> None:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=grace)
        # The group may still hold grandchildren (webserver, daemon, code server, run workers).
        deadline = time.monotonic() + grace
        while _group_alive(child.process.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)
        child.log.close()

    def retire(self, child: Child) -> None:
        """Stop watching `child` (it was replaced); its process group is still stopped by `stop`."""
        self.children.remove(child)
        self.retired.append(child)

    def stop(self, names: tuple[str, ...] | None = None) -> None:
        for child in reversed(list(self.children)):
            if names is None or child.name in names:
                self.stop_child(child)
                self.children.remove(child)
        for child in list(self.retired):
            if names is None or child.name in names:
                self.stop_child(child, grace=5.0)
                self.retired.remove(child)

    def leftovers(self, pids: list[int]) -> int:
        return sum(1 for pid in pids if _group_alive(pid))


def log(message: str, prefix: str = "bench") -> None:
    print(f"[{prefix} {datetime.now():%H:%M:%S}] {message}", flush=True)


def rounded(value: float | None, digits: int = 1) -> float | None:
    """`value` rounded to `digits`; None (no figure) stays None."""
    return None if value is None else round(value, digits)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict[str, float | None]:
    """How many, and their p50, p95 and max, rounded to a tenth."""
    return {
        "n": len(values),
        "p50": rounded(percentile(values, 50)),
        "p95": rounded(percentile(values, 95)),
        "max": rounded(max(values) if values else None),
    }


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_until_up(stack: Stack, urls: Mapping[str, str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(urls)
    with httpx.Client(timeout=5.0, verify=tls_context()) as http:
        while pending:
            stack.check_alive()
            for name, url in list(pending.items()):
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(url).status_code == 200:
                        del pending[name]
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"not answering after {timeout:.0f}s: {', '.join(pending)}")
            time.sleep(0.5)


class DagsterGraphQL:
    """A few read-only queries against the webserver (the benchmark never launches runs)."""

    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=30.0, verify=tls_context())

    def close(self) -> None:
        self._http.close()

    def runs(self, job: str | None = None, statuses: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        parts = []
        if job:
            parts.append(f'pipelineName: "{job}"')
        if statuses:
            parts.append(f"statuses: [{', '.join(statuses)}]")
        query = (
            "{ runsOrError" + (f"(filter: {{{', '.join(parts)}}})" if parts else "") + " "
            "{ __typename ... on Runs { results { runId jobName status } } } }"
        )
        response = self._http.post("/graphql", json={"query": query})
        response.raise_for_status()
        data = response.json().get("data", {}).get("runsOrError", {})
        return list(data.get("results", []))

    def wait_for_first_run(self, job: str, stack: Stack, timeout: float) -> None:
        """The daemon is evaluating sensors once the ingest sensor has launched a run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stack.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if self.runs(job):
                    return
            time.sleep(2.0)
        raise RuntimeError(f"no {job} run within {timeout:.0f}s: is the daemon running sensors?")

    def wait_until_idle(self, job: str | None, timeout: float) -> bool:
        """No run of `job` (of any job for None) queued or running; False after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if not self.runs(job, IN_FLIGHT):
                    return True
            time.sleep(2.0)
        return False

    def wait_until_quiet(self, jobs: tuple[str, ...], quiet: float, timeout: float) -> bool:
        """No run of `jobs` queued or running for `quiet` seconds in a row; False after `timeout`."""
        deadline = time.monotonic() + timeout
        since = time.monotonic()
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if any(r["jobName"] in jobs for r in self.runs(None, IN_FLIGHT)):
                    since = time.monotonic()
                elif time.monotonic() - since >= quiet:
                    return True
            time.sleep(2.0)
        return False


def runs_by_job(dagster_home: Path) -> dict[str, int]:
    """Runs by job, and failures, from the Dagster instance (SQLite storage under DAGSTER_HOME)."""
    import dagster as dg  # here: the other helpers do not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    counts: dict[str, int] = {}
    with dg.DagsterInstance.get() as instance:
        for run in instance.get_runs():
            counts[run.job_name] = counts.get(run.job_name, 0) + 1
            if run.status == dg.DagsterRunStatus.FAILURE:
                counts["failed"] = counts.get("failed", 0) + 1
    return counts


# -- Dagster as separate processes (so the daemon can be restarted on its own) ----------------

# The code location the repo's workspace.yaml names, served here by a code server of its own.
LOCATION_NAME = "sync_pipeline"
DEFINITIONS_MODULE = "sync_pipeline.definitions"


def code_server_command(socket: Path) -> list[str]:
    """A long-lived code server for the code location, as `dg dev` (the README's demo) starts one
    and as a deployment runs one per brand (docs/deploy.md). Given workspace.yaml's
    `python_module` instead, the daemon starts a code server of its own and, every 60 s (Dagster's
    `RELOAD_WORKSPACE_INTERVAL`, not configurable), drops it and starts another, which loads the
    definitions again: 12-16 code servers in a 5-minute rehearsal, ~6 % of the machine (session
    18). Pointed at this server, the daemon's reload is a reconnect. On a unix socket in the run's
    own directory, not a port: gRPC binds ports with SO_REUSEPORT, so a second server on a taken
    port (one left by an earlier run) starts anyway and the daemon's calls are split between them."""
    return [
        str(BIN / "dagster"), "code-server", "start", "-m", DEFINITIONS_MODULE,
        "--location-name", LOCATION_NAME, "--socket", str(socket), "--log-level", "warning",
    ]  # fmt: skip


def code_server_socket(work: Workdir) -> Path:
    return work.root / "code-server.sock"


def grpc_workspace(work: Workdir) -> Path:
    """A workspace file naming the run's code server (for the daemon and the webserver)."""
    path = work.root / "workspace.yaml"
    server = {"socket": str(code_server_socket(work)), "location_name": LOCATION_NAME}
    path.write_text(yaml.safe_dump({"load_from": [{"grpc_server": server}]}), encoding="utf-8")
    return path


def wait_for_code_server(stack: Stack, child: Child, socket: Path, timeout: float = 180.0) -> None:
    """Until the code server on `socket` answers with its definitions loaded."""
    # Here: the other helpers do not need Dagster loaded.
    from dagster._grpc.client import DagsterGrpcClient
    from dagster._grpc.types import ListRepositoriesResponse
    from dagster._serdes import deserialize_value

    client = DagsterGrpcClient(socket=str(socket))
    deadline = time.monotonic() + timeout
    why = "no answer"
    while True:
        stack.check_alive()
        try:
            answer = deserialize_value(client.list_repositories())
            if isinstance(answer, ListRepositoriesResponse):
                return
            why = str(getattr(answer, "message", answer))  # the definitions failed to load
        except Exception as error:  # not serving yet: gRPC's errors are of many kinds
            why = f"{type(error).__name__}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"code server not serving after {timeout:.0f}s ({why}); see {child.log.name}")
        time.sleep(0.5)


def daemon_command(workspace: Path) -> list[str]:
    return [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]


def webserver_command(port: int, workspace: Path) -> list[str]:
    return [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)]


def group_processes(pgid: int) -> list[tuple[int, str, str]]:
    """(pid, command line, command name) of every live process in process group `pgid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = parse_stat((entry / "stat").read_text())
            cmdline = read_cmdline(entry)
        except (OSError, ValueError, IndexError):
            continue  # exited between the listing and the read
        if stat.pgid == pgid and stat.state != "Z":
            found.append((int(entry.name), cmdline, stat.name))
    return found


def run_workers(pgid: int) -> list[int]:
    """Run worker processes of the daemon's process group, forked warm or spawned by its code
    server (`cpu.is_run_worker`)."""
    return [pid for pid, cmd, name in group_processes(pgid) if is_run_worker(cmd, name)]


def runs_in_flight(dagster_home: Path) -> list[tuple[str, str]]:
    """(run id, job) of runs queued or in progress, from the instance's storage."""
    import dagster as dg  # here: the other helpers do not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(dagster_home)
    statuses = [dg.DagsterRunStatus(s) for s in IN_FLIGHT]
    with dg.DagsterInstance.get() as instance:
        return [(r.run_id, r.job_name) for r in instance.get_runs(filters=dg.RunsFilter(statuses=statuses))]
