"""A whole stack for end-to-end tests: both sandboxes, the receiver, env vars, a Dagster instance.

Sensors are evaluated for real (`evaluate_tick` on the code location's own sensor definitions)
and every run they request is executed in-process against the same test instance, so cursors,
run keys, in-flight checks and materialization metadata all behave as under the daemon.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.definitions import defs as load_definitions
from sync_pipeline.defs.inbox_sensors import latest_metadata
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.receiver.app import ReceiverConfig
from sync_pipeline.receiver.app import create_app as create_receiver
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import SANDBOX_SHOP_DOMAIN, FaultSettings, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.subscribe import wanted_subscriptions
from sync_pipeline_tests.instances import run_instance

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "e2e-callback-token-0123456789abcdef"
WEBHOOK_SECRET = "sandbox-webhook-secret"
WEBHOOK_TOPICS = ("orders/paid", "orders/updated", "orders/edited", "orders/cancelled")


@dataclass
class E2EStack:
    shop: SandboxControl
    pvx: PeoplevoxControl
    inbox: Inbox
    ledger: Ledger
    definitions: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)
    continued: list[str] = field(default_factory=list)  # of `runs`: a backlog's next batch
    shopify_url: str = ""

    @property
    def shop_client(self) -> ShopifyClient:
        """An Admin API client for what a merchant does by hand (fulfil in the admin, say)."""
        return ShopifyClient(self.shopify_url, "shpat_sandbox")

    def tick(self, sensor_name: str) -> int:
        """Evaluate a sensor once and execute the runs it requests; returns how many."""
        sensor = self.definitions.resolve_sensor_def(sensor_name)
        context = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursors.get(sensor_name),
            definitions=self.definitions,
            # As the daemon gives a sensor the resources it names (`build_sensor_context` does not
            # take them from `definitions`).
            resources=self.definitions.resources,
        )
        data = sensor.evaluate_tick(context)
        self.cursors[sensor_name] = data.cursor
        for request in data.run_requests or []:
            job = self.definitions.resolve_job_def(request.job_name or sensor.job_name)
            result = job.execute_in_process(
                instance=self.instance, partition_key=request.partition_key, tags=request.tags
            )
            assert result.success, f"{job.name} failed"
            self.runs.append(job.name)
        return len(data.run_requests or [])

    def tick_until_caught_up(self, sensor_name: str, key: dg.AssetKey) -> int:
        """Tick `sensor_name` once, then again while the latest run of `key` stopped at its time
        budget with work left (its `caught_up` metadata False), as the sensor's own backlog path
        does under the daemon; returns how many runs the first tick launched (the later ones are
        in `continued`). A run's budget is wall-clock time (ingest and release: 30 s), so on a
        loaded machine one run may not finish a burst."""
        runs = self.tick(sensor_name)
        while latest_metadata(self.instance, key)[1].get("caught_up") is False:
            assert self.tick(sensor_name) == 1, f"{sensor_name} left {key.to_user_string()}'s backlog"
            self.continued.append(self.runs[-1])
        return runs

    def wait_for_webhooks(self, settle: float = 0.6, timeout: float = 20) -> None:
        """Webhooks are delivered in the background: wait until the inbox stops growing."""
        deadline = time.monotonic() + timeout
        count = -1
        while time.monotonic() < deadline:
            now = len(self.inbox.since("shopify"))
            if now == count:
                return
            count = now
            time.sleep(settle)


@contextmanager
def e2e_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hold_seconds: int, webhook_faults: FaultSettings
) -> Iterator[E2EStack]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "data" / "config", config_dir)
    orders_yaml = config_dir / "orders.yaml"
    orders_yaml.write_text(
        orders_yaml.read_text().replace("hold_window_seconds: 900", f"hold_window_seconds: {hold_seconds}")
    )
    shopify = BackgroundServer(
        create_shopify_app(ShopifySandboxConfig(plan="plus", faults=webhook_faults))
    ).start()
    pvx = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=500, window_seconds=1.0))
    ).start()
    receiver = BackgroundServer(
        create_receiver(ReceiverConfig(tmp_path / "inbox", WEBHOOK_SECRET, TOKEN, SANDBOX_SHOP_DOMAIN))
    ).start()
    env = {
        "SHOPIFY_SHOP_URL": shopify.url,
        "SHOPIFY_ACCESS_TOKEN": "shpat_sandbox",
        "SHOPIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PEOPLEVOX_BASE_URL": pvx.url,
        "PEOPLEVOX_CLIENT_ID": "sandbox",
        "PEOPLEVOX_USERNAME": "integration",
        "PEOPLEVOX_PASSWORD": "sandbox-password",
        "PEOPLEVOX_REQUESTS_PER_WINDOW": "500",
        "PEOPLEVOX_WINDOW_SECONDS": "1",
        "SYNC_DATA_DIR": str(tmp_path),
        "SYNC_CONFIG_DIR": str(config_dir),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    shop = SandboxControl(shopify.url)
    control = PeoplevoxControl(pvx.url)
    try:
        for topic in WEBHOOK_TOPICS:
            shop.register_webhook(topic, f"{receiver.url}/webhooks/shopify")
        with PeoplevoxClient(pvx.url, "sandbox", "integration", "sandbox-password", 500, 1.0) as client:
            # The callbacks `sync-pipeline subscribe` registers, confirmed placeholders only.
            for wanted in wanted_subscriptions(receiver.url, TOKEN):
                if wanted.system == "peoplevox":
                    client.subscribe_event(wanted.topic, wanted.url)
        with run_instance() as instance:
            yield E2EStack(
                shop=shop,
                pvx=control,
                inbox=Inbox(tmp_path / "inbox"),
                ledger=Ledger(tmp_path / "ledger.duckdb"),
                definitions=load_definitions(),
                instance=instance,
                shopify_url=shopify.url,
            )
    finally:
        shop.close()
        control.close()
        for server in (receiver, pvx, shopify):
            server.stop()
