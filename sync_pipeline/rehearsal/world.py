"""The rehearsal's world: both sandboxes at the store's limits, the receiver, the Dagster daemon.

Shopify sandbox and receiver are child processes (`sync-pipeline sandbox shopify`, `sync-pipeline
receiver`); the Peoplevox sandbox runs in this process (its floor in real time, its limiter at the
store's figures) so the oversell sampler can read the warehouse atomically and faults can reach
its limiter and sessions. Dagster runs as a code server for the code location (`dagster
code-server start`), `dagster-daemon run` (sensors, schedules, run queue, run launcher, run
monitoring) and, if asked, `dagster-webserver`; the rehearsal never launches a run itself.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_pipeline.rehearsal.cpu import CODE_SERVER
from sync_pipeline.rehearsal.profile import StoreProfile
from sync_pipeline.rehearsal.stack import (
    BIN,
    PEOPLEVOX_PASSWORD,
    SHOPIFY_TOKEN,
    Child,
    Ports,
    Stack,
    Workdir,
    code_server_command,
    code_server_socket,
    daemon_command,
    environment,
    grpc_workspace,
    run_workers,
    runs_by_job,
    wait_for_code_server,
    wait_until_up,
    webserver_command,
)
from sync_pipeline.rehearsal.stock_watch import baseline, seed
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.control import SandboxControl, StockSpec
from sync_pipeline.sandbox.traffic import Catalogue, seed_catalogue
from sync_pipeline.settings import REPO_ROOT

PLENTY = 1_000_000  # the sale's SKUs never run dry: oversell is watched on the scarce ones
SCARCE_ON_HAND = 40


@dataclass
class World:
    profile: StoreProfile
    work: Workdir
    ports: Ports
    stack: Stack
    pvx_server: BackgroundServer
    log: Callable[[str], None]
    catalogue: Catalogue | None = None
    restocked: list[str] = field(default_factory=list)  # goods-in go here; nobody buys them
    scarce: list[str] = field(default_factory=list)  # shoppers buy these; low stock
    buffers: dict[str, int] = field(default_factory=dict)
    daemon: Child | None = None
    daemon_starts: int = 0
    clock_offset: timedelta = timedelta(0)  # real UTC − the warehouse clock
    pvx_state: Any = None  # the in-process Peoplevox sandbox's SandboxState
    workspace: Path | None = None  # the daemon's and webserver's, naming the run's code server

    @property
    def warehouse(self) -> Any:
        return self.pvx_state.warehouse

    def shop(self, timeout: float = 120.0) -> SandboxControl:
        return SandboxControl(self.ports.url("shopify"), timeout=timeout)

    def pvx(self, timeout: float = 120.0) -> PeoplevoxControl:
        return PeoplevoxControl(self.pvx_server.url, timeout=timeout)

    # -- Dagster ---------------------------------------------------------------------------
    def start_daemon(self) -> None:
        self.daemon_starts += 1
        assert self.workspace is not None
        self.daemon = self.stack.start(f"dagster-daemon-{self.daemon_starts}", daemon_command(self.workspace))

    def restart_daemon(self) -> str:
        """SIGTERM the daemon process alone (its run workers go on, as they would in a deploy
        that restarts only the daemon), wait for it to exit, start a new one."""
        assert self.daemon is not None
        retired, old = self.daemon, self.daemon.process
        self.stack.retire(retired)
        began = time.monotonic()
        os.kill(old.pid, signal.SIGTERM)
        try:
            old.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.kill(old.pid, signal.SIGKILL)
            old.wait(timeout=10)
        stopped = time.monotonic() - began
        self.start_daemon()
        return f"daemon pid {old.pid} stopped in {stopped:.1f}s; new daemon pid {self.daemon.process.pid}"

    def process_groups(self) -> list[tuple[str, int]]:
        """(name, process group) of every child started, a replaced daemon's too (for `cpu.CpuMeter`)."""
        return [(c.name, c.process.pid) for c in [*self.stack.children, *self.stack.retired]]

    def run_workers(self) -> list[int]:
        """Run workers of every daemon started (those of a replaced one may still be running), and
        of the code server (it starts them with `--cold-run-workers`)."""
        pids: list[int] = []
        for child in [*self.stack.children, *self.stack.retired]:
            if child.name.startswith("dagster-daemon") or child.name == CODE_SERVER:
                pids += run_workers(child.process.pid)
        return pids


def start_world(profile: StoreProfile, work: Workdir, ports: Ports, ui_port: int | None, seed_value: int,
                log: Callable[[str], None]) -> World:  # fmt: skip
    """Everything up and seeded, the baseline reconcile done, the daemon running its sensors."""
    allocation, picking, packing, despatch = profile.floor_seconds
    pvx_app = create_pvx_app(PeoplevoxSandboxConfig(
        requests_per_window=10_000, window_seconds=1.0, time_scale=1.0, ticker_interval=0.5,
        allocation_delay=allocation, allocation_retry=max(5.0, allocation), picking_after=picking,
        packing_after=packing, despatch_after=despatch, units_per_package=profile.units_per_package,
    ))  # fmt: skip
    pvx_server = BackgroundServer(pvx_app, port=ports.peoplevox).start()
    env = environment(work, ports, profile.pvx_requests_per_window, profile.pvx_window_seconds)
    stack = Stack(work, env)
    world = World(profile, work, ports, stack, pvx_server, log, pvx_state=pvx_app.state.sandbox)
    try:
        _bring_up(world, env, ui_port, seed_value)
    except BaseException:
        # Nothing started may outlive a failed start (the caller never gets the world to stop):
        # the sandboxes, the receiver, the code server (which may never serve: a definitions error).
        stack.stop()
        pvx_server.stop()
        raise
    return world


def _bring_up(world: World, env: dict[str, str], ui_port: int | None, seed_value: int) -> None:
    profile, work, ports, stack, pvx_server, log = (world.profile, world.work, world.ports, world.stack,
                                                   world.pvx_server, world.log)  # fmt: skip
    cli = str(BIN / "sync-pipeline")
    stack.start(
        "shopify", [cli, "sandbox", "shopify", "--port", str(ports.shopify), "--plan", profile.shopify_plan]
    )
    stack.start("receiver", [cli, "receiver", "--port", str(ports.receiver)])
    wait_until_up(stack, {"shopify": f"{ports.url('shopify')}/_sandbox/state",
                          "receiver": f"{ports.url('receiver')}/healthz"})  # fmt: skip
    rng = random.Random(seed_value)
    with world.shop() as shop, world.pvx() as pvx:
        catalogue = seed_catalogue(shop, pvx, profile.catalogue_size, rng, work.config)
        shop.set_stock([StockSpec(sku=s, available=PLENTY) for s in catalogue.skus])
        pvx.set_stock([(c, site, PLENTY) for c in catalogue.item_codes for site in catalogue.sites])
    world.catalogue = catalogue
    world.restocked = [f"REH-RESTOCK-{i:03d}" for i in range(20)]
    world.scarce = [f"REH-SCARCE-{i:03d}" for i in range(10)]
    seed(ports.url("shopify"), world.warehouse, world.restocked, on_hand=50, barcode_prefix="58")
    seed(ports.url("shopify"), world.warehouse, world.scarce, on_hand=SCARCE_ON_HAND, barcode_prefix="57")
    log(f"seeded {len(catalogue.shopify_skus)} Shopify SKUs, {len(catalogue.item_codes)} Peoplevox item types,"
        f" {len(world.restocked)} restocked and {len(world.scarce)} scarce SKUs")  # fmt: skip
    # Subscriptions exactly as the product registers them (and records their ids in the ledger).
    done = subprocess.run([cli, "subscribe"], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    if done.returncode:
        raise RuntimeError(f"sync-pipeline subscribe failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    world.buffers = baseline(ports.url("shopify"), pvx_server.url, work.ledger, work.config, SHOPIFY_TOKEN,
                             PEOPLEVOX_PASSWORD)  # fmt: skip
    world.pvx_state.limiter.configure(profile.pvx_requests_per_window, profile.pvx_window_seconds)
    log(f"catalogue and stock reconciled; Peoplevox's limiter at {profile.pvx_requests_per_window} /"
        f" {profile.pvx_window_seconds:g} s")  # fmt: skip
    # Create Dagster's storage here, before the daemon: two processes creating the same SQLite
    # storage at once can both stamp its schema version (alembic then finds two heads).
    runs_by_job(work.dagster_home)
    # The code location's own code server (`stack.code_server_command`), up before the daemon and
    # kept when the daemon is restarted, as in a deployment.
    socket = code_server_socket(work)
    code_server = stack.start(CODE_SERVER, code_server_command(socket))
    wait_for_code_server(stack, code_server, socket)
    world.workspace = grpc_workspace(work)
    world.start_daemon()
    if ui_port:
        stack.start("dagster-webserver", webserver_command(ui_port, world.workspace))
    world.clock_offset = datetime.now(UTC) - world.warehouse.clock.now()
