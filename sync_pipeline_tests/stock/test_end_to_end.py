"""Stock from Peoplevox to Shopify, end to end: the real sensor, real runs, both sandboxes over HTTP,
the receiver taking Peoplevox's callbacks. Goods-in and a returned unit put back on the shelf reach
Shopify through the incremental path; a unit returned damaged does not; a repeated availability value
is a change like any other; a bad feed fails the blocking check and Shopify is not touched."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import ProductSpec, VariantSpec
from sync_pipeline_tests.orders.harness import E2EStack, e2e_stack

CODES = ["TEE-BLK-M", "CAP-BLK-OS", "SOCK-BLK-OS"]
SITE = "PrimarySite"
SENSOR = "peoplevox_availability_events"


def _shown(stack: E2EStack) -> dict[str, int]:
    return {s["sku"]: s["available"] for s in stack.shop.stock() if s["location"] == "Warehouse"}


def _callbacks_land(stack: E2EStack, expected: int) -> None:
    stack.pvx.flush_events()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = [i for i in stack.inbox.since("peoplevox") if i.load().get("event") == "AvailabilityChanges"]
        if len(seen) >= expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"expected {expected} availability callbacks in the inbox")


def _materialization(stack: E2EStack, key: list[str]) -> dict:
    event = stack.instance.get_latest_materialization_event(dg.AssetKey(key))
    assert event is not None and event.asset_materialization is not None
    return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}


def _reconcile(stack: E2EStack) -> dg.ExecuteInProcessResult:
    job = stack.definitions.resolve_job_def("stock_reconcile_job")
    hour = datetime.now(UTC).strftime("%Y-%m-%d-%H:00")
    return job.execute_in_process(instance=stack.instance, partition_key=hour, raise_on_error=False)


@pytest.mark.timeout(300)
def test_stock_moves_from_the_warehouse_to_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with e2e_stack(tmp_path, monkeypatch, 1, FaultSettings()) as stack:
        for code in CODES:
            stack.shop.add_product(ProductSpec(title=code, variants=[VariantSpec(sku=code)]))
        stack.pvx.seed_items([(c, f"50{i:011d}", c) for i, c in enumerate(CODES)])
        stack.pvx.set_stock([(c, SITE, 50) for c in CODES])
        # The catalogue on both sides, as the hourly catalogue assets would have it.
        env = os.environ
        rules = load_business_rules(Path(env["SYNC_CONFIG_DIR"]))
        with PeoplevoxClient(
            env["PEOPLEVOX_BASE_URL"], "sandbox", "integration", "sandbox-password", 500, 1.0
        ) as pvx:
            catalogue.refresh(
                ShopifyOrdersSource(stack.shop_client), PeoplevoxWarehouse(pvx), stack.ledger, rules
            )

        # The hourly reconcile publishes everything; its check passes.
        result = _reconcile(stack)
        assert result.success
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        assert checks == {"stock_feed_plausible": True, "stock_drift": True}
        assert _shown(stack) == {"TEE-BLK-M": 48, "CAP-BLK-OS": 48, "SOCK-BLK-OS": 48}
        # Its push was prepared by the snapshot step, during the Peoplevox read.
        assert _materialization(stack, ["shopify", "inventory_levels"])["prepared_during_read"] is True

        # Goods in, and a return put back on the shelf: callbacks → one run for the burst → Shopify.
        stack.pvx.goods_in("TEE-BLK-M", SITE, 12)
        stack.pvx.count_stock("SOCK-BLK-OS", SITE, 55)
        _callbacks_land(stack, 2)
        assert stack.tick(SENSOR) == 1
        assert stack.tick(SENSOR) == 0  # nothing new: no run
        assert _shown(stack) == {"TEE-BLK-M": 60, "CAP-BLK-OS": 48, "SOCK-BLK-OS": 53}
        pushed = _materialization(stack, ["shopify", "inventory_levels"])
        assert (pushed["mode"], pushed["applied"], pushed["caught_up"]) == ("items", 2, True)

        # Availability 50 → 49 → 50 → 49 for one item: every callback is news (none is dropped as a
        # duplicate), and the run re-reads the item whatever the callbacks said.
        for counted in (49, 50, 49):
            stack.pvx.count_stock("CAP-BLK-OS", SITE, counted)
        _callbacks_land(stack, 5)
        values = [i.load()["params"]["available"] for i in stack.inbox.since("peoplevox")
                  if i.load().get("event") == "AvailabilityChanges" and i.load()["params"]["item"] == "CAP-BLK-OS"]  # fmt: skip
        assert values == ["49", "50", "49"]
        assert stack.tick(SENSOR) == 1
        assert _materialization(stack, ["peoplevox", "availability_changes"])["availability_callbacks"] == 3
        assert _shown(stack)["CAP-BLK-OS"] == 47

        # A bad feed (maintenance window): the blocking check fails the run and Shopify is untouched.
        before = stack.shop.stock()
        stack.pvx.set_faults(inventory_feed="zero")
        result = _reconcile(stack)
        assert not result.success
        (check,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "stock_feed_plausible"]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert stack.shop.stock() == before
        assert [e.kind for e in stack.ledger.list_open_exceptions("stock_feed_suspect")] == [
            "stock_feed_suspect"
        ]
