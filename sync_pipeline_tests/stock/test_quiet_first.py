"""Quiet rows first, the push's clock from its first request, and the queue counted when there is
nothing new to push.

A rehearsal at 1,500 orders a minute (goal: stock change → Shopify p95 ≤ 30 s; measured 237 s):
goods-in landed on SKUs nobody buys, which went last (fastest sellers first), in one request with up
to 250 rows the sale kept moving. Shopify applies a request whole or not at all (compare-and-set), so
it came back stale; the run's 10 s, started with the run and spent on the reads before its first
request, were up, and everything was deferred, run after run, until the sale ended. Runs that found
nothing new to push said `caught_up` with items still queued.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.defs.inventory.metadata import push_metadata
from sync_pipeline.lib.domain.config.stock_buffers import PeakMode
from sync_pipeline.lib.domain.stock_priority import is_quiet, quiet_first
from sync_pipeline.lib.flows.orders.ingest import record_orders
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.stock import plan as stock_plan
from sync_pipeline.lib.flows.stock import writes
from sync_pipeline.lib.flows.stock.ports import Location, QuantityWrite
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.ledger import stock_levels, stock_pushes, stock_snapshots
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.stock.test_stale_rows import SaleBeforeEachWrite
from sync_pipeline_tests.stock.world import CODES, SITE, World, stock_world

FAST = ["TEE-BLK-M", "TEE-WHT-M", "SOCK-BLK-OS", "CAP-BLK-OS", "HOODIE-GRY-M"]


def _hint(w: World, *codes: str) -> None:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))


def _sold(w: World, sku: str, quantity: int) -> dict[str, Any]:
    """A shopper buys `sku` and the orders flow records it: the ledger now sees it selling."""
    order = w.shop.place_order(OrderSpec(lines=[LineSpec(sku=sku, quantity=quantity)], shipping_address=UK))
    read_at = datetime.now(UTC)
    shop_orders = list(ShopifyOrdersSource(w.client).orders_by_ids([order["id"]]).values())
    record_orders(w.ledger, shop_orders, w.rules, "test", datetime.now(UTC), read_at)
    return order


def _outcomes(w: World) -> dict[str, str]:
    with w.ledger.transaction() as con:
        return {sku: p.last_outcome for (sku, _), p in stock_levels.positions(con).items()}


def _dirty(w: World) -> set[str]:
    with w.ledger.transaction() as con:
        return set(stock_snapshots.dirty(con))


def test_a_row_is_quiet_when_nothing_sells_it_and_no_order_holds_it() -> None:
    assert is_quiet(0.0, [0.0, 0.0], 0, 0) and is_quiet(0.0, [], 0, None)
    assert not is_quiet(0.04, [0.0], 0, 0)  # it sells
    assert not is_quiet(0.0, [0.0, 1.5], 0, 0)  # a bundle holding its item sells
    assert not is_quiet(0.0, [0.0], 1, 0)  # an open order in the ledger (a cancellation restocks)
    assert not is_quiet(0.0, [0.0], 0, 2)  # unfulfilled in Shopify, maybe unknown to the ledger


def test_quiet_rows_go_first_and_quiet_slow_sellers_ride_only_in_the_first_request() -> None:
    go = [("FAST", "L"), ("QUIET", "L")]
    waiting = [("SLOW", "L"), ("Q1", "L"), ("Q2", "L")]
    quiet = {("QUIET", "L"), ("Q1", "L"), ("Q2", "L")}
    # The first request has room for two rows: the quiet row going anyway and one rider.
    assert quiet_first(go, waiting, quiet, 2) == (
        [("QUIET", "L"), ("Q1", "L")],
        [("FAST", "L")],
        [("SLOW", "L"), ("Q2", "L")],
    )
    # No request will go (the run's points are spent): nothing rides, the rule holds them back.
    assert quiet_first(go, waiting, quiet, 0) == ([("QUIET", "L")], [("FAST", "L")], waiting)


def test_in_a_sale_the_goods_in_goes_alone_in_the_first_request_and_only_moving_rows_are_deferred(
    tmp_path: Path,
) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        for sku in FAST:
            _sold(w, sku, 1)  # the ledger sees them selling; nothing sells the tote
        for code in CODES:
            w.pvx.goods_in(code, SITE, 10)  # every listing differs from Shopify
        _hint(w, *CODES)
        # Every fast seller sells again before each write: a request carrying one is always stale.
        shop = SaleBeforeEachWrite(w, dict.fromkeys(FAST, None))
        now = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, now, run_id="sale")
        # No time at all: the run sends its first request and no other.
        report = push(shop, w.ledger, w.rules, now, run_id="sale", max_seconds=0)
        sent = [(skus, applied) for kind, skus, applied in shop.log if kind == "write"]
        # Before: the goods-in went last, in one request with the seven moving rows, which came back
        # stale; the time was up and all eight were deferred.
        assert sent == [(("TOTE-NAT-OS",), True)]
        assert (report.quiet, report.requests, report.applied, report.stale) == (1, 1, 1, 0)
        assert w.available()["TOTE-NAT-OS"] == 50  # 40 + 10, buffer 0
        # The moving rows (the fast sellers, the old SKU overridden to a selling tee, the bundle of
        # selling components) are deferred, their items queued for the next run; the tote is not.
        outcomes = _outcomes(w)
        moving = {"TEE-BLK-M", "TEE-BLACK-M", "TEE-WHT-M", "SOCK-BLK-OS", "CAP-BLK-OS", "HOODIE-GRY-M",
                  "BUNDLE-STARTER"}  # fmt: skip
        assert outcomes.pop("TOTE-NAT-OS") == "applied"
        assert {sku for sku, outcome in outcomes.items() if outcome == "deferred"} == moving
        assert (report.deferred, report.caught_up) == (7, False)
        assert _dirty(w) == set(FAST)
        assert push_metadata(report)["quiet_rows_sent_first"] == 1
        with w.ledger.transaction() as con:
            assert stock_pushes.in_doubt(con) == []


def test_in_peak_mode_a_quiet_slow_sellers_goods_in_rides_in_the_first_request_a_moving_one_waits(
    tmp_path: Path,
) -> None:
    # Peak mode (one order in the window is peak at this threshold), fulfilments behind (a share of
    # the bucket) and the bucket drained: the rule holds slow sellers' raises back for room. The
    # tote sells nothing (quiet); the cap sold one unit (0.04 / h: slow, but moving).
    peak = PeakMode(orders_per_minute=0.001, window_minutes=10, extra_buffer=2, slow_below_units_per_hour=0.1)
    with stock_world(tmp_path) as w:
        w.rules = w.rules.model_copy(
            update={"stock_buffers": w.rules.stock_buffers.model_copy(update={"peak": peak})}
        )
        w.full()
        _sold(w, "CAP-BLK-OS", 1)
        before = w.available()
        for code in ("CAP-BLK-OS", "TOTE-NAT-OS"):
            w.pvx.goods_in(code, SITE, 3)
        _hint(w, "CAP-BLK-OS", "TOTE-NAT-OS")
        w.shop.drain_bucket()
        _, report = w.changes(max_points=1_000)
        # Before: both waited, though the levels read had spent their points already and the next
        # run would read them again. Now the quiet tote goes (its request costs one mutation); the
        # moving cap still waits, queued without asking for a run at once.
        assert report.peak and (report.quiet, report.waiting, report.applied, report.requests) == (1, 1, 1, 1)
        assert report.caught_up
        after = w.available()
        assert (after["TOTE-NAT-OS"], after["CAP-BLK-OS"]) == (
            before["TOTE-NAT-OS"] + 3,
            before["CAP-BLK-OS"],
        )
        assert _dirty(w) == {"CAP-BLK-OS"}

        # The run's points spent before any request: no request goes, so nothing rides; the quiet
        # slow seller waits as the rule says (deferred, it would have the sensor start runs at once).
        w.pvx.goods_in("TOTE-NAT-OS", SITE, 2)
        _hint(w, "TOTE-NAT-OS")
        w.shop.drain_bucket()
        _, report = w.changes(max_points=1)
        assert (report.requests, report.waiting, report.deferred) == (0, 2, 0)
        assert _dirty(w) == {"CAP-BLK-OS", "TOTE-NAT-OS"}


class Clock:
    """`time.monotonic()` for the push's budget (`plan.time`), moved on by the fake storefront."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset


class SlowBeforeFirstWrite(ShopifyStock):
    """The work before a run's first request takes `before` seconds (here the locations read, as
    the reads did under load: up to 17.7 s), and each write `per_write` seconds."""

    def __init__(self, w: World, clock: Clock, before: float, per_write: float) -> None:
        super().__init__(w.client)
        self.clock, self.before, self.per_write = clock, before, per_write

    def locations(self) -> list[Location]:
        self.clock.offset += self.before
        return super().locations()

    def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
        super().set_available(writes, key, reference)
        self.clock.offset += self.per_write


def test_the_push_time_limit_starts_at_the_first_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "MAX_INPUT", 1)  # a request per row: time can run out between rows
    clock = Clock()
    monkeypatch.setattr(stock_plan, "time", clock)
    with stock_world(tmp_path) as w:
        w.full()
        for code in ("CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS"):
            w.pvx.goods_in(code, SITE, 3)
        _hint(w, "CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS")
        # 60 s before the first request, 20 s a write, 30 s allowed: two requests go (the second
        # starts 20 s after the first), the third would start at 40 s and is deferred. Before, the
        # clock started with the run and was up at the first request: one went, two were deferred.
        slow = SlowBeforeFirstWrite(w, clock, before=60, per_write=20)
        now = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, now, run_id="slow")
        report = push(slow, w.ledger, w.rules, now, run_id="slow", max_seconds=30)
        assert (report.requests, report.applied, report.deferred, report.caught_up) == (2, 2, 1, False)
        assert _dirty(w) == {"TOTE-NAT-OS"}


def test_a_run_with_nothing_new_to_push_counts_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writes, "MAX_INPUT", 1)
    with stock_world(tmp_path) as w:
        w.full()
        for code in ("CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS"):
            w.pvx.goods_in(code, SITE, 3)
        _hint(w, "CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS")
        # Two runs in flight: the second's push takes the snapshot the first read, runs out of time
        # after one request and queues the other two items.
        now = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, now, run_id="first")
        second = push(w.storefront, w.ledger, w.rules, now, run_id="second", max_seconds=0)
        assert (second.applied, second.deferred, second.queue_ready, second.caught_up) == (1, 2, 2, False)
        # The first run's push finds nothing new. Before, it said `caught_up` with nothing queued,
        # and the sensor's backlog check believed it.
        first = push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="first", max_seconds=10)
        assert first.mode == "none" and (first.queue_ready, first.caught_up) == (2, False)
        metadata = push_metadata(first)
        assert (metadata["queued_items_for_next_run"], metadata["caught_up"]) == (2, False)
        assert _dirty(w) == {"HOODIE-GRY-M", "TOTE-NAT-OS"}
