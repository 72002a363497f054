"""The stock flow against both sandboxes: targets, buffers, bundles, orders in flight, incremental
runs, location mismatches and the budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.defs.inventory.metadata import push_metadata
from sync_pipeline.lib.domain.config.stock_buffers import PeakMode
from sync_pipeline.lib.flows.orders.ingest import record_orders
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.orders.statuses import StatusReport, apply_statuses
from sync_pipeline.lib.flows.stock import hints, states, writes
from sync_pipeline.lib.flows.stock.push import FULL_READ_CURSOR, push
from sync_pipeline.lib.flows.stock.snapshot import take_full, take_queued
from sync_pipeline.lib.ledger import cursors, stock_pushes, stock_snapshots
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, StockSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.stock.world import POPUP, SITE, World, stock_world


def _hint(w: World, *codes: str) -> None:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))


def test_full_reconcile_publishes_available_less_buffer_and_bundles_as_complete_sets(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.pvx.count_stock("SOCK-BLK-OS", SITE, 9)
        untouched = {s["sku"]: s for s in w.levels() if s["sku"] in ("NATIVE-PACK", "GIFT-25")}
        snap, report = w.full()
        assert (snap.verdict, report.mode, report.outcome_unknown, report.refused) == (
            "accepted",
            "full",
            0,
            0,
        )
        shown = w.available()
        assert shown["TEE-BLK-M"] == 38  # 40 − default buffer 2
        assert shown["TEE-BLACK-M"] == 38  # an old SKU overridden to the same item code
        assert shown["HOODIE-GRY-M"] == 35  # by_sku 5
        assert shown["TOTE-NAT-OS"] == 40  # by_sku 0
        assert shown["CAP-BLK-OS"] == 37  # tag `fragile`: 3
        assert shown["SOCK-BLK-OS"] == 7
        assert shown["BUNDLE-STARTER"] == 2  # min(40, 40, 9 // 2) − 2: complete sets only
        # Shopify's own bundle and the gift card are never written; the unmapped location neither.
        assert {s["sku"]: s for s in w.levels() if s["sku"] in ("NATIVE-PACK", "GIFT-25")} == untouched
        assert set(w.available(POPUP).values()) == {0}
        # Nothing differs now: a second reconcile sends nothing.
        _, again = w.full()
        assert (again.differing, again.requests) == (0, 0)


def test_orders_on_their_way_to_the_warehouse_are_never_put_back_on_sale(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        order = w.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=3)], shipping_address=UK)
        )
        assert w.available()["TEE-BLK-M"] == 35  # Shopify took them off at checkout
        # Goods arrive before the ledger has even read the order: Shopify's `committed` covers it.
        w.pvx.goods_in("TEE-BLK-M", SITE, 10)
        _hint(w, "TEE-BLK-M")
        w.changes()
        assert w.available()["TEE-BLK-M"] == 45  # 50 − 3 on their way − 2
        source = ShopifyOrdersSource(w.client)
        read_at = datetime.now(UTC)  # before Shopify serves it
        shop_orders = list(source.orders_by_ids([order["id"]]).values())
        record_orders(w.ledger, shop_orders, w.rules, "test", datetime.now(UTC), read_at)
        release(source, PeoplevoxWarehouse(w.pvx_client), w.ledger, w.rules, "test", datetime.now(UTC))
        number = f"SHP-{order['legacy_id']}"
        w.pvx.force_status(number, "Allocated")  # Peoplevox allocates: its available drops to 47
        _hint(w, "TEE-BLK-M")
        w.changes()
        # The ledger has not heard of the allocation yet: both terms count it, so Shopify shows less,
        # never more (the safe side) ...
        assert w.available()["TEE-BLK-M"] == 42
        # The status run that hears of it queues the order's items itself: no callback will come
        # (the allocation's came before), and the store would show 3 too few until the reconcile.
        statuses = StatusReport()
        apply_statuses(w.ledger, [(number, "Allocated")], "test", statuses, hints.for_orders(w.rules))
        assert statuses.stock_items_hinted == 1
        w.changes()
        assert w.available()["TEE-BLK-M"] == 45  # ... until it does.
        apply_statuses(  # Picking moves no units: nothing queued
            w.ledger, [(number, "Picking")], "test", statuses, hints.for_orders(w.rules)
        )
        assert statuses.stock_items_hinted == 1


def test_an_allocation_heard_of_between_the_read_and_the_push_stays_held_back(tmp_path: Path) -> None:
    """A run reads Peoplevox, then may wait minutes for the `shopify_stock` pool before it pushes. An
    order the ledger hears has moved past `New` in between was allocated after the figure was read
    (or may have been): the figure still counts its units, so the push must still hold them back
    (session-8 rehearsal: REH-SCARCE-002 raised 14 -> 17 with 16 allowed)."""
    with stock_world(tmp_path) as w:
        w.full()
        number = _released(w, "TEE-BLK-M", 3)
        _hint(w, "TEE-BLK-M")
        read = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, read, run_id="test-items")  # 40: the order is New
        w.pvx.force_status(number, "Allocated")  # Peoplevox allocates after the read: 37
        apply_statuses(w.ledger, [(number, "Allocated")], "test", StatusReport())
        push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="test-items")
        # Shopify may show at most 37 − 0 awaiting − 2 (buffer); from the old figure: 40 − 3 − 2.
        assert w.pvx_available()["TEE-BLK-M"] == 37
        assert w.available()["TEE-BLK-M"] == 35
        # A figure read after the ledger heard of the allocation already excludes the 3 units.
        _hint(w, "TEE-BLK-M")
        w.changes()
        assert w.available()["TEE-BLK-M"] == 35


def test_an_allocation_heard_of_while_a_read_is_under_way_stays_queued_for_the_next_read(
    tmp_path: Path,
) -> None:
    """The status run queues an allocated order's items when it records the status, stamped then,
    not when the run began: a stock read that began in between holds the units back (its figure
    may predate the allocation) and must leave the items queued for a read that does not (session-9
    rehearsal: a status run began 23:10:41 and queued 111 items at 23:11:07 stamped 23:10:41; a read
    begun 23:10:53 cleared them, and REH-SCARCE-001 stayed short in Shopify to the end)."""
    with stock_world(tmp_path) as w:
        w.full()
        number = _released(w, "TEE-BLK-M", 3)
        allocated = hints.for_orders(w.rules)  # a status run begins
        _hint(w, "TEE-BLK-M")
        read = datetime.now(UTC)  # a stock run begins reading the item
        w.pvx.force_status(number, "Allocated")  # 37
        statuses = StatusReport()
        apply_statuses(w.ledger, [(number, "Allocated")], "test", statuses, allocated)  # heard of meanwhile
        assert statuses.stock_items_hinted == 1
        w.changes(read)  # the read ends: the ledger heard of the allocation after it began
        assert w.available()["TEE-BLK-M"] == 32  # 37 − 3 held back − 2: the safe side ...
        with w.ledger.transaction() as con:
            assert "TEE-BLK-M" in stock_snapshots.dirty(con)
        w.changes()
        assert w.available()["TEE-BLK-M"] == 35  # ... until the next read, which the hint brings


def test_a_despatch_heard_of_after_a_read_does_not_hold_the_allocated_units_back_again(
    tmp_path: Path,
) -> None:
    """Only a move of the allocation makes an older figure suspect: an order Peoplevox had allocated
    before the read is already out of its figure, and Allocated → Despatched learned after the read
    moves nothing. Moving the learned time on for every status held the units back again with no
    hint to follow (session-9 rehearsal: SKUs below target until the hourly reconcile)."""
    with stock_world(tmp_path) as w:
        w.full()
        number = _released(w, "TEE-BLK-M", 3)
        w.pvx.force_status(number, "Allocated")  # 37
        statuses = StatusReport()
        apply_statuses(w.ledger, [(number, "Allocated")], "test", statuses, hints.for_orders(w.rules))
        w.changes()
        assert w.available()["TEE-BLK-M"] == 35  # 37 − 0 awaiting − 2
        w.pvx.goods_in("TEE-BLK-M", SITE, 4)  # 41
        _hint(w, "TEE-BLK-M")
        read = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, read, run_id="test-items")  # 41, the order's 3 excluded
        w.pvx.force_status(number, "Despatched")  # shipped: Peoplevox available stays 41
        apply_statuses(w.ledger, [(number, "Despatched")], "test", statuses, hints.for_orders(w.rules))
        assert statuses.stock_items_hinted == 1  # the allocation did not move: nothing new queued
        push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="test-items")
        assert w.pvx_available()["TEE-BLK-M"] == 41
        assert w.available()["TEE-BLK-M"] == 39  # 41 − 2, not 41 − 3 − 2 until the reconcile
        with w.ledger.transaction() as con:
            assert not stock_snapshots.dirty(con)


def test_an_in_doubt_order_found_allocated_queues_its_items_as_a_status_run_does(tmp_path: Path) -> None:
    """Release, finishing an injection whose answers were lost, records Peoplevox's status too."""
    with stock_world(tmp_path) as w:
        w.full()
        order = _sold(w, "TEE-BLK-M", 3)
        source, warehouse = ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client)
        for _ in range(2):  # the headers, then the items, are applied and their answers lost
            w.pvx.set_faults(drop_after_save_next=1)
            release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
        number = f"SHP-{order['legacy_id']}"
        w.pvx.force_status(number, "Allocated")
        _hint(w, "TEE-BLK-M")  # the allocation's callback
        w.changes()
        # Peoplevox 37 after allocating 3; the ledger still thinks the order is being sent, so both
        # terms hold the 3 back: 37 − 3 − 2 (buffer).
        assert w.available()["TEE-BLK-M"] == 32
        report = release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
        assert report.in_doubt_resolved == {"found_in_peoplevox": 1}
        assert report.stock_items_hinted == 1
        w.changes()
        assert w.available()["TEE-BLK-M"] == 35


def test_an_incremental_run_re_reads_only_named_items_and_writes_only_what_changed(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        before = {s["sku"]: s["updated_at"] for s in w.levels()}
        w.pvx.goods_in("CAP-BLK-OS", SITE, 5)
        _hint(w, "CAP-BLK-OS", "TOTE-NAT-OS")  # TOTE did not change: re-read, not written
        # A callback's {ItemCode} no search clause can carry (a backslash, a control character)
        # used to fail every incremental run from then on, the code staying queued: it is left to
        # the hourly full read (which names no code) and the others go.
        _hint(w, "TEE\\BLK-M", "SOCK\x01BLK")
        snap, report = w.changes()
        assert (snap.items_asked, snap.changed, report.mode) == (2, 1, "items")
        assert snap.unreadable == 2
        with w.ledger.transaction() as con:
            assert not stock_snapshots.dirty(con)
        assert (report.differing, report.applied, report.requests) == (1, 1, 1)
        after = {s["sku"]: s["updated_at"] for s in w.levels()}
        assert [sku for sku in after if after[sku] != before[sku]] == ["CAP-BLK-OS"]
        assert w.available()["CAP-BLK-OS"] == 42


def test_a_location_that_pairs_with_no_site_is_an_exception_until_it_is_fixed(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.shop.set_stock([StockSpec(sku="TEE-BLK-M", available=6, location=POPUP)])
        _, report = w.full()
        assert report.mismatches == 1
        (problem,) = w.ledger.list_open_exceptions(states.LOCATION_MISMATCH)
        assert problem.owner == "warehouse_ops" and "'Pop-up shop' holds 6 available units" in problem.message
        w.shop.set_stock([StockSpec(sku="TEE-BLK-M", available=0, location=POPUP)])
        w.pvx.goods_in("TEE-BLK-M", SITE, 1)  # a new full snapshot to push
        # An hourly reconcile does not page the unfed location's levels, so it cannot know the
        # problem is gone: the exception stays as it was, neither re-found nor resolved unchecked.
        _, hourly = w.full()
        assert hourly.mismatches == 0
        assert [x.message for x in w.ledger.list_open_exceptions(states.LOCATION_MISMATCH)] == [
            problem.message
        ]
        # The daily complete read of Shopify checks it, and resolves it.
        with w.ledger.transaction() as con:
            cursors.put(con, FULL_READ_CURSOR, (datetime.now(UTC) - timedelta(hours=25)).isoformat())
        w.pvx.goods_in("TEE-BLK-M", SITE, 1)
        w.full()
        assert w.ledger.list_open_exceptions(states.LOCATION_MISMATCH) == []


def test_while_backlogged_a_run_spends_its_share_and_leaves_the_rest_queued(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        for code in ("TEE-BLK-M", "CAP-BLK-OS"):
            w.pvx.goods_in(code, SITE, 3)
        _hint(w, "TEE-BLK-M", "CAP-BLK-OS")
        _, report = w.changes(max_points=1)  # the reads alone spend more than that
        assert report.deferred >= 1 and not report.caught_up
        with w.ledger.transaction() as con:
            assert set(stock_snapshots.dirty(con)) >= {"TEE-BLK-M"}
        _, report = w.changes()
        assert report.caught_up and w.available()["TEE-BLK-M"] == 41
        with w.ledger.transaction() as con:
            assert stock_pushes.in_doubt(con) == []


def _sold(w: World, sku: str, quantity: int) -> dict[str, Any]:
    """A shopper buys `sku` and the orders flow records it: the ledger now sees it selling."""
    order = w.shop.place_order(OrderSpec(lines=[LineSpec(sku=sku, quantity=quantity)], shipping_address=UK))
    read_at = datetime.now(UTC)
    shop_orders = list(ShopifyOrdersSource(w.client).orders_by_ids([order["id"]]).values())
    record_orders(w.ledger, shop_orders, w.rules, "test", datetime.now(UTC), read_at)
    return order


def _released(w: World, sku: str, quantity: int) -> str:
    """An order for `sku` sold, recorded and released to Peoplevox (`New` there); its sales order number."""
    order = _sold(w, sku, quantity)
    release(ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client), w.ledger, w.rules, "test",
            datetime.now(UTC))  # fmt: skip
    return f"SHP-{order['legacy_id']}"


def test_an_incremental_run_stops_sending_when_its_time_is_up_fast_sellers_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run holds the shopify_stock pool while it pushes, and the next stock run waits for it: an
    # incremental run sends for `max_seconds` at most and leaves the rest queued for the next run.
    monkeypatch.setattr(writes, "MAX_INPUT", 1)  # a request per row: time can run out between rows
    with stock_world(tmp_path) as w:
        w.full()
        # All three sell (none is quiet, which would go first: `test_quiet_first.py`); the tote fastest.
        _sold(w, "TOTE-NAT-OS", 2)
        _sold(w, "CAP-BLK-OS", 1)
        _sold(w, "HOODIE-GRY-M", 1)
        for code in ("CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS"):
            w.pvx.goods_in(code, SITE, 3)
        _hint(w, "CAP-BLK-OS", "HOODIE-GRY-M", "TOTE-NAT-OS")
        before = w.available()
        # No time at all (the clock starts at the first request): it still sends that one (the
        # fastest seller), so every run makes progress, and nothing more.
        snap, report = w.changes(max_seconds=0)
        assert snap.items_asked == 3
        assert (report.requests, report.applied, report.deferred, report.caught_up) == (1, 1, 2, False)
        after = w.available()
        assert [sku for sku in before if after[sku] != before[sku]] == ["TOTE-NAT-OS"]
        with w.ledger.transaction() as con:
            assert set(stock_snapshots.dirty(con)) == {"CAP-BLK-OS", "HOODIE-GRY-M"}
            assert stock_pushes.in_doubt(con) == []
        _, report = w.changes(max_seconds=60)
        assert report.caught_up and report.applied == 2
        assert w.available()["CAP-BLK-OS"] == before["CAP-BLK-OS"] + 3
        # The hourly reconcile is the safety net: it has no time limit.
        w.pvx.goods_in("CAP-BLK-OS", SITE, 1)
        w.pvx.goods_in("HOODIE-GRY-M", SITE, 1)
        now = datetime.now(UTC)
        take_full(w.source, w.ledger, w.rules, now)
        full = push(w.storefront, w.ledger, w.rules, now, max_seconds=0)
        assert (full.mode, full.applied, full.deferred) == ("full", 2, 0)


def test_in_peak_mode_a_slow_sellers_goods_in_waits_only_while_a_backlogged_flow_needs_the_bucket(
    tmp_path: Path,
) -> None:
    # One order in the window is "peak" at this threshold; its SKU sells 12 units a day (0.5 / h).
    # CAP-BLK-OS sold one unit (0.04 / h): a slow seller, and not a quiet one (a slow seller nothing
    # sells rides in the first request instead of waiting: `test_quiet_first.py`). Its buffer in peak
    # mode: tag `fragile` 3 + 2, and the unit on its order, not allocated yet, is held back.
    peak = PeakMode(orders_per_minute=0.001, window_minutes=10, extra_buffer=2, slow_below_units_per_hour=0.1)
    with stock_world(tmp_path) as w:
        w.rules = w.rules.model_copy(
            update={"stock_buffers": w.rules.stock_buffers.model_copy(update={"peak": peak})}
        )
        w.full()
        _sold(w, "TEE-BLK-M", 12)
        _sold(w, "CAP-BLK-OS", 1)

        # Peak mode with nothing behind: the slow seller's goods-in goes at once (the session-7
        # rehearsal held 300 of them for the whole of peak mode with Shopify's bucket 34 % used).
        w.pvx.goods_in("CAP-BLK-OS", SITE, 3)
        _hint(w, "CAP-BLK-OS")
        snap, report = w.changes()
        assert report.peak and (snap.items_asked, report.waiting, report.applied) == (1, 0, 1)
        assert w.available()["CAP-BLK-OS"] == w.pvx_available()["CAP-BLK-OS"] - 5 - 1

        # Fulfilments behind (the run gets a share) and their runs have drained the bucket: the fast
        # seller goes, the slow seller's raise waits, still queued, without asking for a run at once.
        for code in ("TEE-BLK-M", "CAP-BLK-OS"):
            w.pvx.goods_in(code, SITE, 3)
        before = w.available()
        _hint(w, "TEE-BLK-M", "CAP-BLK-OS")
        w.shop.drain_bucket()
        snap, report = w.changes(max_points=1_000)
        # (Listings sharing TEE-BLK-M's item drop with its order's reservation: lowering never waits.)
        assert (snap.items_asked, report.waiting, report.caught_up) == (2, 1, True)
        assert push_metadata(report)["slow_sellers_waiting_for_room"] == 1
        after = w.available()
        assert after["TEE-BLK-M"] != before["TEE-BLK-M"] and after["CAP-BLK-OS"] == before["CAP-BLK-OS"]
        with w.ledger.transaction() as con:
            assert set(stock_snapshots.dirty(con)) == {"CAP-BLK-OS"}

        # The bucket has room again (the backlog is still there): the next run takes it.
        w.shop.reset_bucket()
        snap, report = w.changes(max_points=1_000)
        assert (snap.items_asked, report.waiting, report.applied) == (1, 0, 1)
        assert w.available()["CAP-BLK-OS"] == w.pvx_available()["CAP-BLK-OS"] - 5 - 1
        with w.ledger.transaction() as con:
            assert not stock_snapshots.dirty(con)
