"""The finance job end to end: the code location's own schedule and job, both sandboxes over HTTP.

Orders go to the warehouse through the orders flow and come back through the despatches flow
(real sensors, real runs); then the warehouse and Shopify do what finance must see: a parcel
shipped after a cancellation, a refund waiting for its goods, a return nobody refunded. Returns
close the loop through the stock flow: a unit graded reusable is back on sale in Shopify after the
stock reconcile, one graded damaged is returned in finance but never restocked. The
hourly schedule's run reads Shopify's money and Peoplevox's returns, reconciles and writes the
files; a backfill of the same days (as the UI launches one) re-reads by order day, leaves the
incremental cursors alone and gives the same answer.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.defs.finance.schedules import finance_hourly
from sync_pipeline.defs.finance.scope import RANGE_END, RANGE_START
from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.finance import read_money
from sync_pipeline.lib.flows.finance.reconcile import exports_root
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import finance_exports
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import CancelSpec, LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline.sandbox.traffic_money import Warehouse, refund_one_unit, return_one_unit
from sync_pipeline_tests.despatches.test_end_to_end import _despatch_until_quiet
from sync_pipeline_tests.orders.harness import E2EStack, e2e_stack
from sync_pipeline_tests.orders.test_end_to_end import UK

CATALOGUE = ["TEE-BLK-M", "CAP-BLK-OS"]
# What happens to each order after it reaches the warehouse, and the status finance must see.
PLAN = {
    "shipped": rules.MATCHED,
    "cancelled_then_shipped": rules.CANCELLED_BUT_DESPATCHED,
    "not_shipped_yet": rules.AWAITING_DESPATCH,
    "returned_not_refunded": rules.RETURNED_NOT_REFUNDED,
    "returned_damaged": rules.RETURNED_NOT_REFUNDED,
    "refunded_not_returned": rules.REFUNDED_NOT_RETURNED,
}


def _run(stack: E2EStack, tags: dict[str, str]) -> dg.ExecuteInProcessResult:
    result = stack.definitions.resolve_job_def("finance_job").execute_in_process(
        instance=stack.instance, tags=tags
    )
    assert result.success
    return result


def _rows(stack: E2EStack, placed: dict[str, dict], days: list) -> dict[str, dict]:
    rows = {
        r["shopify_order_id"]: r
        for r in finance_exports.read_orders(exports_root(stack.ledger.path.parent), days)
    }
    assert set(rows) == {p["id"] for p in placed.values()}, "every order placed is reconciled once"
    return {name: rows[p["id"]] for name, p in placed.items()}


def _statuses(stack: E2EStack, placed: dict[str, dict], days: list) -> dict[str, str]:
    return {name: row["status"] for name, row in _rows(stack, placed, days).items()}


def _refresh_catalogue(stack: E2EStack) -> None:
    rules = load_business_rules(Path(os.environ["SYNC_CONFIG_DIR"]))
    with PeoplevoxClient(
        os.environ["PEOPLEVOX_BASE_URL"], "sandbox", "integration", "sandbox-password", 500, 1.0
    ) as pvx:
        catalogue.refresh(
            ShopifyOrdersSource(stack.shop_client), PeoplevoxWarehouse(pvx), stack.ledger, rules
        )


def _on_sale_after_stock_reconcile(stack: E2EStack) -> dict[str, int]:
    """The stock flow's hourly reconcile (Peoplevox → Shopify), then what Shopify sells."""
    hour = datetime.now(UTC).strftime("%Y-%m-%d-%H:00")
    job = stack.definitions.resolve_job_def("stock_reconcile_job")
    assert job.execute_in_process(instance=stack.instance, partition_key=hour).success
    return {s["sku"]: s["available"] for s in stack.shop.stock() if s["location"] == "Warehouse"}


@pytest.mark.timeout(300)
def test_the_hourly_run_and_a_backfill_reconcile_both_systems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 1, FaultSettings()) as stack:
        for sku in CATALOGUE:
            stack.shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="12.50")]))
        stack.pvx.seed_items([(sku, f"50{i:011d}", sku) for i, sku in enumerate(CATALOGUE)])
        stack.pvx.set_stock([(sku, "PrimarySite", 100) for sku in CATALOGUE])
        lines = [LineSpec(sku="TEE-BLK-M", quantity=2), LineSpec(sku="CAP-BLK-OS")]
        placed = {name: stack.shop.place_order(OrderSpec(lines=lines, shipping_address=UK)) for name in PLAN}
        stack.wait_for_webhooks()
        assert stack.tick("shopify_order_events") == 1
        time.sleep(1.5)  # the hold window
        assert stack.tick("orders_release_due") == 1

        stack.shop.cancel_order(placed["cancelled_then_shipped"]["id"], CancelSpec())
        whole = [{"TEE-BLK-M": 2, "CAP-BLK-OS": 1}]
        for name, p in placed.items():
            if name != "not_shipped_yet":
                stack.pvx.despatch(f"SHP-{p['legacy_id']}", whole)
        _despatch_until_quiet(stack)
        _refresh_catalogue(stack)  # as the hourly catalogue assets would have it, for the stock flow
        on_sale = _on_sale_after_stock_reconcile(stack)
        warehouse = Warehouse(stack.pvx, "SHP-")
        returned = return_one_unit(
            warehouse, placed["returned_not_refunded"]["id"], "Changed mind", reusable=True
        )
        damaged = return_one_unit(warehouse, placed["returned_damaged"]["id"], "Damaged", reusable=False)
        assert returned == damaged == "CAP-BLK-OS"
        refund_one_unit(stack.shop_client, placed["refunded_not_returned"]["id"], "RETURN")
        # The reusable unit is back on sale; the damaged one is not.
        assert _on_sale_after_stock_reconcile(stack) == {**on_sale, "CAP-BLK-OS": on_sale["CAP-BLK-OS"] + 1}

        now = datetime.now(UTC)
        request = finance_hourly(
            dg.build_schedule_context(instance=stack.instance, scheduled_execution_time=now)
        )
        assert isinstance(request, dg.RunRequest) and request.tags[RANGE_END] == now.date().isoformat()
        hourly = _run(stack, request.tags)
        days = [now.date() - timedelta(days=1), now.date()]
        rows = _rows(stack, placed, days)
        assert {name: row["status"] for name, row in rows.items()} == PLAN
        # Both returns count in finance; only the reusable one went back on the shelf.
        assert [(rows[n]["units_returned"], rows[n]["units_returned_reusable"])
                for n in ("returned_not_refunded", "returned_damaged", "shipped")] == [(1, 1), (1, 0), (0, 0)]  # fmt: skip
        checks = {e.check_name: e for e in hourly.get_asset_check_evaluations()}
        assert checks["reconciliation_ties_out"].passed
        assert not checks["cancelled_orders_not_despatched"].passed
        assert checks["cancelled_orders_not_despatched"].severity == dg.AssetCheckSeverity.ERROR
        assert not checks["refunds_match_returns"].passed
        assert checks["paid_not_despatched_within_sla"].passed
        money_meta = hourly.asset_materializations_for_node("shopify__order_money")[0].metadata
        assert money_meta["mode"].value == "incremental" and money_meta["orders_read"].value == len(PLAN)
        assert money_meta["caught_up"].value is True  # within `money_read_max_seconds`
        cursor = stack.ledger.get_cursor(read_money.CURSOR)
        assert cursor is not None

        # A backfill of yesterday and today, as the UI launches it (one run for the range).
        backfill = _run(stack, {"dagster/backfill": "finance-test", RANGE_START: days[0].isoformat(),
                                RANGE_END: days[1].isoformat()})  # fmt: skip
        money_meta = backfill.asset_materializations_for_node("shopify__order_money")[0].metadata
        assert money_meta["mode"].value == "backfill" and money_meta["orders_read"].value == len(PLAN)
        assert money_meta["shopify_read"].value == "paginated"  # below SHOPIFY_BULK_THRESHOLD
        assert stack.ledger.get_cursor(read_money.CURSOR) == cursor  # the incremental reads' own
        assert _statuses(stack, placed, days) == PLAN
        root = exports_root(stack.ledger.path.parent)
        for day in days:
            assert (root / day.isoformat() / "daily_summary.csv").exists()
        month = root / now.strftime("%Y-%m") / "month_summary.csv"
        assert month.exists()
        (summary,) = [s for s in finance_exports.read_daily_summaries(root, days, rules.STATUSES)]
        assert summary["orders"] == len(PLAN) and summary["revenue_shop"] == sum(
            summary[f"{s}_value_shop"] for s in rules.STATUSES
        )
