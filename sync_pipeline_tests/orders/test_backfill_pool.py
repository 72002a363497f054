"""A backfill holds a pool of its own: live ingest starts and finishes while one is reading.

A real instance with the deployment's pool settings (dagster.yaml), a real backfill run of
`shopify/orders` (a slow bulk operation against the Shopify sandbox) and a live run of the same
asset, as the ingest sensor launches it, both executed for real against the sandbox.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from sync_pipeline.defs import brand
from sync_pipeline.defs.finance.assets import shopify_order_money
from sync_pipeline.defs.orders.assets import shopify_orders
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource, ShopifyResource
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
)
from sync_pipeline_tests.instances import run_instance

from .conftest import REPO_ROOT

SKUS = ("TEE-BLK-M", "CAP-NVY", "MUG-LOGO")
POOLS = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))["concurrency"]["pools"]


def _resources(shopify_url: str, data_dir: Path) -> dict[str, Any]:
    return {
        "shopify": ShopifyResource(
            shop_url=shopify_url, access_token="shpat_sandbox", api_version="2026-10", bulk_threshold=2
        ),
        "ledger": LedgerResource(data_dir=str(data_dir)),
        "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
    }


def _claimed(instance: dg.DagsterInstance, pool: str) -> list[str]:
    return [s.run_id for s in instance.event_log_storage.get_concurrency_info(pool).claimed_slots]


def test_live_ingest_runs_while_a_backfill_holds_its_pool(tmp_path: Path) -> None:
    # The bulk export writes 2 objects a second: 12 orders of one line take about 12 s.
    config = ShopifySandboxConfig(plan="plus", bulk_objects_per_second=2.0)
    server = BackgroundServer(create_shopify_app(config)).start()
    shop = SandboxControl(server.url)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    try:
        for code in SKUS:
            shop.add_product(ProductSpec(title=code, variants=[VariantSpec(sku=code, price="20.00")]))
        for n in range(12):
            shop.place_order(OrderSpec(lines=[LineSpec(sku=SKUS[n % len(SKUS)])]))
        with run_instance({"concurrency": {"pools": POOLS}}) as instance:
            backfill: dict[str, Any] = {}

            def run_backfill() -> None:
                backfill["result"] = dg.materialize(
                    [shopify_orders], resources=_resources(server.url, tmp_path / "backfill"),
                    instance=instance, partition_key=today, tags={"dagster/backfill": "bf-1"},
                )  # fmt: skip
                backfill["ended"] = time.monotonic()

            thread = threading.Thread(target=run_backfill, daemon=True)
            thread.start()
            deadline = time.monotonic() + 60
            while not _claimed(instance, brand.SHOPIFY_BACKFILL) and time.monotonic() < deadline:
                time.sleep(0.1)
            [holder] = _claimed(instance, brand.SHOPIFY_BACKFILL)  # the backfill is reading

            live = dg.materialize(
                [shopify_orders], resources=_resources(server.url, tmp_path / "live"),
                instance=instance, partition_key=today, tags={"sync/trigger": "1 shopify event(s)"},
            )  # fmt: skip
            live_ended = time.monotonic()
            still_held = _claimed(instance, brand.SHOPIFY_BACKFILL)
            thread.join(timeout=120)

        assert live.success and backfill["result"].success
        assert still_held == [holder], "the backfill ended first: nothing was shown"
        assert live_ended < backfill["ended"]
        # Each read took its own pool; the other branch was skipped.
        [live_read] = live.asset_materializations_for_node(shopify_orders.node_def.name)
        assert live_read.metadata["mode"].value == "incremental"
        [backfill_read] = backfill["result"].asset_materializations_for_node(shopify_orders.node_def.name)
        assert backfill_read.metadata["shopify_read"].value == "bulk"
        assert {s.step_key for s in live.get_step_success_events()} == {
            "shopify__orders.orders_read_mode",
            "shopify__orders.orders_from_webhooks",  # the webhook bodies: no pool, no Shopify read
            "shopify__orders.orders_read_live",
            "shopify__orders.orders_recorded",
        }
    finally:
        shop.close()
        server.stop()


@pytest.mark.parametrize(
    ("asset", "live_pool"),
    [(shopify_orders, brand.SHOPIFY_ORDERS), (shopify_order_money, brand.SHOPIFY_FINANCE)],
    ids=["orders", "money"],
)
def test_every_shopify_backfill_reads_in_its_own_pool(asset: dg.AssetsDefinition, live_pool: str) -> None:
    """The finance backfill too: its first step needs no pool, each read takes its own (the live
    read its flow's pool)."""
    ops = {op.name: op.pool for op in asset.node_def.node_defs}
    assert sorted(p for p in ops.values() if p) == sorted([live_pool, brand.SHOPIFY_BACKFILL])
    graph = asset.node_def
    first = [n for n in graph.nodes if not graph.dependency_structure.all_upstream_outputs_from_node(n.name)]
    assert [ops[n.definition.name] for n in first] == [None]
