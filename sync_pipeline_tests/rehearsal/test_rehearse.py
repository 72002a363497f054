"""One short real rehearsal: both sandboxes, the receiver and the Dagster daemon, a few orders with
a couple of faults. Nothing may be lost or duplicated; then a sales order is deleted from the
Peoplevox sandbox before the check (a real loss) and the command must say so and exit 1."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

from sync_pipeline.rehearsal import cli, collect
from sync_pipeline.rehearsal.accounting import KINDS
from sync_pipeline.rehearsal.cpu import CODE_SERVER
from sync_pipeline.rehearsal.peak import PeakResult
from sync_pipeline.rehearsal.stack import (
    Ports,
    Stack,
    Workdir,
    code_server_command,
    code_server_socket,
    daemon_command,
    environment,
    group_processes,
    grpc_workspace,
    runs_by_job,
    wait_for_code_server,
)
from sync_pipeline.rehearsal.world import World

# A real rehearsal takes 2-6 minutes even this small (every hop is a daemon-launched run behind a
# sensor interval): too long for `make test`'s 10-minute budget, so it runs when asked for, as the
# benchmarks do: REHEARSAL_E2E=1 .venv/bin/python -m pytest sync_pipeline_tests/rehearsal/test_rehearse.py
# The accounting it relies on is tested on every run (test_accounting.py).
pytestmark = pytest.mark.skipif(
    not os.environ.get("REHEARSAL_E2E"), reason="a real rehearsal (2-6 min); set REHEARSAL_E2E=1 to run it"
)

# A small store with a fast floor, so the whole chain (ingest, release, floor, despatch, fulfil,
# stock pushes) completes within a few sensor intervals; the flags below override the file.
PROFILE = """
catalogue_size: 20
hold_seconds: 5
floor_seconds: [1, 1, 1, 1]
goods_in_per_minute: 8
returns_per_minute: 4
scarce_orders_per_minute: 8
"""


@pytest.mark.timeout(900)  # the daemon starts a process per run: slow on a busy 2-core machine
def test_a_short_rehearsal_loses_nothing_and_exits_1_on_a_real_loss(tmp_path: Any, capsys: Any) -> None:
    seen: dict[str, Any] = {}

    def check_then_lose_one(world: World, peak: PeakResult) -> None:
        accounting = collect.account(peak, collect.observe(world, peak))
        seen["examples"] = {k: t.examples for k, t in accounting.tallies.items() if t.examples}
        seen["lost"], seen["duplicated"], seen["drained"] = (
            accounting.lost,
            accounting.duplicated,
            peak.drained,
        )
        owed = sorted(peak.owed)
        with world.warehouse.lock:
            seen["deleted"] = next((n for n in owed if n in world.warehouse.orders), None)
            if seen["deleted"]:
                del world.warehouse.orders[seen["deleted"]]

    profile = tmp_path / "store.yaml"
    profile.write_text(PROFILE, encoding="utf-8")
    argv = [
        *("--profile", str(profile), "--minutes", "0.25", "--orders-per-minute", "24"),
        *("--faults", "webhooks_duplicated@1,pvx_session_expiry@8", "--drain-timeout", "600"),
        *("--out", str(tmp_path), "--json"),
    ]
    code = cli.main(argv, before_accounting=check_then_lose_one)
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert seen["drained"], "the flows did not catch up within the drain timeout"
    assert seen["lost"] == dict.fromkeys(KINDS, 0), seen["examples"]
    assert seen["duplicated"] == dict.fromkeys(KINDS, 0), seen["examples"]
    assert report["lost"]["orders"] == 1, report["examples"]
    assert f"missing {seen['deleted']}" in report["examples"]["orders"]
    assert code == 1
    assert report["sale"]["placed"] == 6
    assert {f["fault"] for f in report["faults"]} == {"webhooks_duplicated", "pvx_session_expiry"}
    assert list(tmp_path.glob("rehearsal-*.md")) and list(tmp_path.glob("rehearsal-*.json"))
    # Where the CPU went: the product's processes were seen working, and the nearest ceiling is named.
    cpu = report["cpu"]
    assert cpu["by_role"]["run workers"]["processes"] >= 1 and cpu["run_worker_mean_core_s"] > 0.5
    assert cpu["by_role"]["Shopify sandbox"]["core_s"] > 0 and 0 < cpu["busy_share"] <= 1
    assert report["limits"]["nearest"] in report["limits"]["used"]
    assert cpu["product_core_s"] > 0 and cpu["product_cores_to_keep_pace"] > 0
    # The ledger's lock, recorded by the run workers (and this rehearsal's own watchers).
    [ledger] = report["ledger"]["files"].values()
    assert ledger["transactions"] > 10 and ledger["processes"] >= 2 and 0 < report["ledger"]["held_share"] < 1
    # Named by the product's own code (the steps' modules), not only the rehearsal's watchers.
    steps = {"observed.py", "inject.py", "bodies.py", "snapshot.py", "push.py", "writes.py", "read.py", "fulfil.py",
             "answers.py", "in_doubt.py", "checks.py", "run.py"}  # fmt: skip
    assert any(c["caller"].split()[0] in steps for c in ledger["by_caller"]), ledger
    # The location's own code server: the proxy and the one server it started.
    assert 1 <= cpu["by_role"]["code server"]["processes"] <= 2, cpu["by_role"]["code server"]


@pytest.mark.timeout(300)
def test_the_daemon_reloads_its_workspace_from_the_code_server_without_starting_one(tmp_path: Any) -> None:
    """Dagster's daemon reloads its workspace every 60 s (`RELOAD_WORKSPACE_INTERVAL`). Given a
    `python_module` it starts a code server of its own and replaces it at each reload (12-16 of them
    in a 5-minute rehearsal, each loading the definitions); given the location's own code server,
    as the rehearsal, `dg dev` and a deployment do, a reload is a reconnect."""
    work = Workdir(tmp_path)
    work.prepare(hold_seconds=5)
    ports = Ports()
    stack = Stack(work, environment(work, ports, 15, 15.0))
    try:
        socket = code_server_socket(work)
        server = stack.start(CODE_SERVER, code_server_command(socket))
        wait_for_code_server(stack, server, socket)
        serving = {pid for pid, _, _ in group_processes(server.process.pid)}
        runs_by_job(work.dagster_home)  # the storage, before the daemon (as `start_world`)
        daemon = stack.start("dagster-daemon-1", daemon_command(grpc_workspace(work)))
        deadline = time.monotonic() + 140  # two reloads after the daemon's first load
        daemon_children: set[str] = set()
        while time.monotonic() < deadline:
            stack.check_alive()
            daemon_children |= {
                cmd for pid, cmd, _ in group_processes(daemon.process.pid) if "api grpc" in cmd
            }
            time.sleep(1.0)
        assert not daemon_children, daemon_children
        assert {pid for pid, _, _ in group_processes(server.process.pid)} == serving
        assert "reload" not in (work.logs / f"{CODE_SERVER}.log").read_text(encoding="utf-8").lower()
    finally:
        stack.stop()
