"""A deployment as docs/deploy.md describes it, on one machine: Postgres-backed Dagster, one gRPC
code server per brand (each started with its own environment, as a container or a Kubernetes
user deployment is), the daemon, and for each brand its own Shopify and Peoplevox sandboxes and
receiver. Everything binds 127.0.0.1 on free ports; everything started here is stopped here.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sync_pipeline.receiver.app import ReceiverConfig
from sync_pipeline.receiver.app import create_app as create_receiver
from sync_pipeline.rehearsal.stack import BIN
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer, free_port
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import SANDBOX_SHOP_DOMAIN, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import ProductSpec, SandboxControl, VariantSpec
from sync_pipeline.settings import REPO_ROOT

WEBHOOK_TOPICS = ("orders/paid", "orders/updated", "orders/edited", "orders/cancelled")


@dataclass
class Brand:
    """One brand: a store, a warehouse, a receiver, a ledger, and the environment of its code location."""

    name: str
    skus: list[str]
    root: Path
    servers: list[BackgroundServer] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    grpc_port: int = 0
    shop: SandboxControl | None = None
    pvx: PeoplevoxControl | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"


def _business_rules(target: Path) -> Path:
    """The shipped rules with no hold window, so an order is due as soon as it is ingested."""
    shutil.copytree(REPO_ROOT / "data" / "config", target)
    orders = target / "orders.yaml"
    text = orders.read_text(encoding="utf-8")
    assert "hold_window_seconds: 900" in text, "orders.yaml changed its default hold window"
    orders.write_text(text.replace("hold_window_seconds: 900", "hold_window_seconds: 0"), encoding="utf-8")
    return target


def start_brand(
    name: str, skus: list[str], root: Path, instance_env: dict[str, str], flows: str = "orders"
) -> Brand:
    """A brand whose location automates only `flows` (SYNC_FLOWS): the other flows' sensors and
    schedules would launch runs that cost the test minutes of CPU and prove nothing here."""
    brand = Brand(name=name, skus=skus, root=root)
    brand.data_dir.mkdir(parents=True)
    config_dir = _business_rules(root / "config")
    webhook_secret = f"{name}-webhook-secret"  # each store signs with its own app secret
    shopify = BackgroundServer(
        create_shopify_app(ShopifySandboxConfig(plan="plus", webhook_secret=webhook_secret))
    ).start()
    pvx = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=500, window_seconds=1.0))
    ).start()
    receiver = BackgroundServer(
        create_receiver(
            ReceiverConfig(
                brand.data_dir / "inbox",
                webhook_secret,
                f"{name}-callback-token-".ljust(40, "0"),
                SANDBOX_SHOP_DOMAIN,
            )
        )
    ).start()
    brand.servers = [receiver, pvx, shopify]
    brand.shop, brand.pvx = SandboxControl(shopify.url), PeoplevoxControl(pvx.url)
    for sku in skus:
        brand.shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="20.00")]))
    brand.pvx.seed_items([(sku, f"50{i:011d}", sku.title()) for i, sku in enumerate(skus)])
    brand.pvx.set_stock([(sku, "PrimarySite", 500) for sku in skus])
    for topic in WEBHOOK_TOPICS:
        brand.shop.register_webhook(topic, f"{receiver.url}/webhooks/shopify")
    brand.grpc_port = free_port()
    brand.env = {
        **instance_env,
        "SYNC_BRAND": name,
        "SYNC_FLOWS": flows,
        "SYNC_DATA_DIR": str(brand.data_dir),
        "SYNC_CONFIG_DIR": str(config_dir),
        "SHOPIFY_SHOP_URL": shopify.url,
        "SHOPIFY_ACCESS_TOKEN": "shpat_sandbox",
        "SHOPIFY_WEBHOOK_SECRET": webhook_secret,
        "PEOPLEVOX_BASE_URL": pvx.url,
        "PEOPLEVOX_CLIENT_ID": "sandbox",
        "PEOPLEVOX_USERNAME": "integration",
        "PEOPLEVOX_PASSWORD": "sandbox-password",
        "PEOPLEVOX_REQUESTS_PER_WINDOW": "500",
        "PEOPLEVOX_WINDOW_SECONDS": "1",
    }
    return brand


def stop_brand(brand: Brand) -> None:
    for control in (brand.shop, brand.pvx):
        if control is not None:
            control.close()
    for server in brand.servers:
        server.stop()


def base_environment() -> dict[str, str]:
    """The parent's environment without anything that would point a child at another brand."""
    drop = ("SHOPIFY_", "PEOPLEVOX_", "SYNC_", "DAGSTER_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def write_workspace(path: Path, brands: list[Brand]) -> Path:
    """One `grpc_server` entry per brand, the location named after the brand (deploy/workspace.yaml)."""
    entries = [
        {"grpc_server": {"host": "127.0.0.1", "port": b.grpc_port, "location_name": b.name}} for b in brands
    ]
    path.write_text(yaml.safe_dump({"load_from": entries}), encoding="utf-8")
    return path


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def start_process(name: str, command: list[str], env: dict[str, str], cwd: Path, logs: Path) -> Process:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    with open(log, "wb") as output:
        # Own session, so stopping it reaches the children it spawns (code server → gRPC server → runs).
        popen = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Process(name, popen, log)


def stop_processes(processes: list[Process]) -> None:
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10  # a code server otherwise waits up to 60 s for RPCs
    for process in reversed(processes):
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.popen.pid, signal.SIGKILL)


def start_code_server(brand: Brand, logs: Path) -> Process:
    """What a brand's container runs: `dagster code-server start`, with the brand's environment only."""
    command = [str(BIN / "dagster"), "code-server", "start", "-m", "sync_pipeline.definitions"]
    command += ["-h", "127.0.0.1", "-p", str(brand.grpc_port), "--location-name", brand.name]
    return start_process(f"code-server-{brand.name}", command, brand.env, REPO_ROOT, logs)


def wait_for_code_servers(brands: list[Brand], processes: list[Process], timeout: float = 180) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    deadline = time.monotonic() + timeout
    for brand in brands:
        client = DagsterGrpcClient(port=brand.grpc_port, host="127.0.0.1")
        while True:
            for process in processes:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
            with contextlib.suppress(Exception):
                client.ping("ready?")
                # Ping answers before the definitions load; a location is ready when it lists them.
                if client.list_repositories():
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"code server of {brand.name} not ready after {timeout:.0f}s")
            time.sleep(0.5)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set variables in this process for the block (the test reads the same instance as the daemon)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def wait_until(
    condition: Callable[[], object],
    timeout: float,
    interval: float = 0.5,  # the callers each look with one instance read: cheap, so look often
    message: str = "condition",
    diagnostics: Callable[[], str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            detail = f"\n{diagnostics()}" if diagnostics else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {message}{detail}")
        time.sleep(interval)
