"""Peak mode switching on and off reaches every listing it moves, once per switch: the real
ingest and stock sensors and runs, both sandboxes over HTTP, the ledger a real DuckDB file.

Before, a push applied peak mode only to the listings whose items it had just read: the rest kept
the old buffer until the hourly reconcile (on: the store sold units peak mode meant to hold back;
off: it showed available − (buffer + extra) everywhere)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sync_pipeline.defs.inventory import sensors as inventory_sensors
from sync_pipeline.defs.orders.triggers import InboxCursor
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import stock_peak
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.orders.harness import E2EStack, e2e_stack
from sync_pipeline_tests.stock.test_end_to_end import _materialization, _reconcile, _shown

CODES = ["TEE-BLK-M", "CAP-BLK-OS", "SOCK-BLK-OS"]
SITE = "PrimarySite"
INGEST, STOCK, RECONCILE = "shopify_order_events", "peoplevox_availability_events", "peak_mode_reconcile"
IN_PEAK = "stock_reconcile_in_peak"
# One order in the 10-minute window is above 0.05 a minute: the first sale switches peak mode on.
PEAK = "peak:\n  orders_per_minute: 0.05\n  window_minutes: 10\n  extra_buffer: 2\n"


def _store(stack: E2EStack, max_items: int | None = None, reconcile_minutes: float | None = None) -> None:
    config = Path(os.environ["SYNC_CONFIG_DIR"])
    buffers = config / "stock_buffers.yaml"
    text = buffers.read_text()
    buffers.write_text(text[: text.index("peak:")] + PEAK)
    stock = config / "stock.yaml"
    if max_items is not None:
        stock.write_text(
            stock.read_text().replace("peak_switch_max_items: 1000", f"peak_switch_max_items: {max_items}")
        )
    if reconcile_minutes is not None:
        text = stock.read_text()
        assert "peak_reconcile_minutes: 10\n" in text
        stock.write_text(
            text.replace("peak_reconcile_minutes: 10", f"peak_reconcile_minutes: {reconcile_minutes}")
        )
    for code in CODES:
        stack.shop.add_product(ProductSpec(title=code, variants=[VariantSpec(sku=code)]))
    stack.pvx.seed_items([(c, f"50{i:011d}", c) for i, c in enumerate(CODES)])
    stack.pvx.set_stock([(c, SITE, 50) for c in CODES])
    rules = load_business_rules(config)
    with PeoplevoxClient(
        os.environ["PEOPLEVOX_BASE_URL"], "sandbox", "integration", "sandbox-password", 500, 1.0
    ) as pvx:
        catalogue.refresh(
            ShopifyOrdersSource(stack.shop_client), PeoplevoxWarehouse(pvx), stack.ledger, rules
        )
    assert _reconcile(stack).success
    assert _shown(stack) == dict.fromkeys(CODES, 48)  # default buffer 2, not in peak mode


def _sale(stack: E2EStack) -> None:
    """A shopper buys one TEE-BLK-M; the ingest sensor's run records it."""
    stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=1)], shipping_address=UK))
    stack.wait_for_webhooks()
    assert stack.tick(INGEST) == 1


def _quiet_for_a_while(stack: E2EStack) -> None:
    """Twenty minutes without an order: the window empties, and the ingest sensor's poll comes due."""
    with stack.ledger.transaction() as con:
        con.execute(
            "UPDATE orders SET shopify_created_at = shopify_created_at - INTERVAL 20 MINUTE, "
            "first_seen_at = first_seen_at - INTERVAL 20 MINUTE"
        )
    cursor = InboxCursor.parse(stack.cursors.get(INGEST))
    stack.cursors[INGEST] = InboxCursor(cursor.last_item, 0.0).dump()
    assert stack.tick(INGEST) == 1


def _switches(stack: E2EStack) -> list[tuple[bool, int, int, bool]]:
    with stack.ledger.transaction() as con:
        rows = reversed(stock_peak.history(con))
    return [(s.peak, s.listings_changed, s.items_queued, s.reconcile) for s in rows]


@pytest.mark.timeout(300)
def test_a_peak_switch_queues_every_listing_it_moves_once_on_and_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 900, FaultSettings()) as stack:
        _store(stack)
        _sale(stack)
        ingest = _materialization(stack, ["shopify", "orders"])
        assert (ingest["peak_mode"], ingest["peak_switch_items_queued"], ingest["peak_switch_reconcile"]) == (
            True, 3, 0,
        )  # fmt: skip
        # No callback names CAP or SOCK (nothing moved in the warehouse): the switch's queue does.
        assert stack.tick(STOCK) == 1
        assert _shown(stack) == {"TEE-BLK-M": 45, "CAP-BLK-OS": 46, "SOCK-BLK-OS": 46}  # 50 − 1 held − 4
        assert _materialization(stack, ["shopify", "inventory_levels"])["peak_mode"] is True
        assert stack.tick(STOCK) == 0  # once per switch
        _sale(stack)  # still in peak mode: no second switch, nothing queued
        assert _materialization(stack, ["shopify", "orders"])["peak_switch"] == 0
        assert stack.tick(STOCK) == 0
        assert stack.tick(RECONCILE) == 0

        _quiet_for_a_while(stack)
        assert _materialization(stack, ["shopify", "orders"])["peak_mode"] is False
        assert stack.tick(STOCK) == 1
        assert _shown(stack) == {"TEE-BLK-M": 46, "CAP-BLK-OS": 48, "SOCK-BLK-OS": 48}  # 50 − 2 held − 2
        assert stack.tick(STOCK) == 0
        assert _switches(stack) == [(True, 3, 3, False), (False, 3, 3, False)]


@pytest.mark.timeout(300)
def test_a_peak_switch_moving_more_than_a_run_should_queue_launches_one_reconcile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 900, FaultSettings()) as stack:
        _store(stack, max_items=0)
        _sale(stack)
        assert _materialization(stack, ["shopify", "orders"])["peak_switch_items_queued"] == 0
        assert stack.tick(STOCK) == 0  # nothing queued item by item ...
        assert stack.tick(RECONCILE) == 1  # ... one reconcile instead
        assert stack.runs[-1] == "stock_reconcile_job"
        assert _shown(stack) == {"TEE-BLK-M": 45, "CAP-BLK-OS": 46, "SOCK-BLK-OS": 46}
        assert stack.tick(RECONCILE) == 0  # once per switch
        _sale(stack)
        assert stack.tick(RECONCILE) == 0

        _quiet_for_a_while(stack)
        assert stack.tick(RECONCILE) == 1
        assert _shown(stack) == {"TEE-BLK-M": 46, "CAP-BLK-OS": 48, "SOCK-BLK-OS": 48}
        assert stack.tick(RECONCILE) == 0
        assert _switches(stack) == [(True, 3, 0, True), (False, 3, 0, True)]


class _SensorClock:
    """The in-peak sensor's clock (`time.time()` in its module), set ahead by a test instead of
    sleeping: a run's own start time stays the real one."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def time(self) -> float:
        return time.time() + self.ahead


@pytest.mark.timeout(300)
def test_in_peak_mode_the_full_reconcile_comes_every_few_minutes_and_finds_a_goods_in_no_callback_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callback is a hint that can be lost. In a rehearsal, callbacks dropped near the end of the
    goods-in left three SKUs short in Shopify for the whole drain: the hourly reconcile was the only
    net. In peak mode the full reconcile now also runs every `peak_reconcile_minutes` (1 here).

    The sensor's clock is moved on rather than slept through. With an interval of 3 s and real
    sleeps, 'not again within the interval' held only while the reconcile run took under 3 s, which a
    loaded machine does not promise."""
    clock = _SensorClock()
    monkeypatch.setattr(inventory_sensors, "time", clock)
    with e2e_stack(tmp_path, monkeypatch, 900, FaultSettings()) as stack:
        _store(stack, reconcile_minutes=1)
        clock.ahead = 61
        assert stack.tick(IN_PEAK) == 0  # not in peak mode: the hourly reconcile only
        clock.ahead = 0
        _sale(stack)
        assert stack.tick(STOCK) == 1  # the switch's queue
        assert stack.tick(IN_PEAK) == 0  # the last reconcile began less than a minute ago
        before = _shown(stack)["CAP-BLK-OS"]
        stack.pvx.set_faults(callback_drop_rate=1.0)
        stack.pvx.goods_in("CAP-BLK-OS", SITE, 10, "PO lost callback")
        assert stack.pvx.flush_events()
        stack.pvx.set_faults(callback_drop_rate=0.0)
        assert stack.tick(STOCK) == 0  # no callback named it
        assert _shown(stack)["CAP-BLK-OS"] == before
        clock.ahead = 61
        assert stack.tick(IN_PEAK) == 1
        assert stack.runs[-1] == "stock_reconcile_job"
        assert _shown(stack)["CAP-BLK-OS"] == before + 10
        clock.ahead = 0
        assert stack.tick(IN_PEAK) == 0  # not again within the interval, however long the run took
        _quiet_for_a_while(stack)
        clock.ahead = 61
        assert stack.tick(IN_PEAK) == 0  # peak mode is off


@pytest.mark.timeout(120)
def test_no_reconcile_in_peak_mode_when_its_interval_is_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with e2e_stack(tmp_path, monkeypatch, 900, FaultSettings()) as stack:
        _store(stack, reconcile_minutes=0)
        _sale(stack)
        assert stack.tick(IN_PEAK) == 0


@pytest.mark.timeout(300)
def test_a_switch_wanting_a_reconcile_gets_one_reconcile_not_one_from_each_sensor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Peak mode comes on with more listings moved than a run should queue (the switch wants a full
    reconcile: `peak_mode_reconcile`) while the last reconcile began longer ago than
    `peak_reconcile_minutes` (the hourly one, say). Whichever sensor the daemon got to first,
    `stock_reconcile_in_peak` launched a full reconcile too: two full reads of Peoplevox (a request
    per 1,000 rows each) at the moment the sale's orders begin to need its limit. It leaves a
    switch's reconcile to the switch's sensor."""
    clock = _SensorClock()
    monkeypatch.setattr(inventory_sensors, "time", clock)
    with e2e_stack(tmp_path, monkeypatch, 900, FaultSettings()) as stack:
        _store(stack, max_items=0, reconcile_minutes=1)
        _sale(stack)
        assert _materialization(stack, ["shopify", "orders"])["peak_switch_reconcile"] > 0
        clock.ahead = 61
        assert stack.tick(IN_PEAK) == 0  # the switch's own reconcile is coming
        assert stack.tick(RECONCILE) == 1
        clock.ahead = 0
        assert stack.tick(IN_PEAK) == 0  # it has just begun
        assert stack.runs.count("stock_reconcile_job") == 1
        clock.ahead = 61
        assert stack.tick(IN_PEAK) == 1  # a minute after it, as every interval
