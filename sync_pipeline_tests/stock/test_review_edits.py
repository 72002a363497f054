"""A reviewer's attack on the oversell rule (session 10): an order edited in Shopify after
Peoplevox allocated it. Over both sandboxes and a real ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.flows.orders.ingest import record_orders
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.orders.statuses import StatusReport, apply_statuses
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.sandbox.shopify.control import EditSpec, QuantityChange
from sync_pipeline_tests.stock.test_push_flow import _sold
from sync_pipeline_tests.stock.world import RULES, World, stock_world


def test_units_an_edit_adds_to_an_allocated_order_stay_held_back(tmp_path: Path) -> None:
    """Customer service adds 3 units to an order line after Peoplevox allocated the order. Shopify
    commits them at once; Peoplevox never gets them (the order is past the cut-off, `Allocated`: the
    change run leaves it to a person). The ledger holds the edited quantity, 5, and counts the whole
    line as past allocation, already out of Peoplevox's figure; Shopify's `committed` (5) less those
    5 holds nothing back either. So the push puts the 3 units back on sale: Shopify offers 36
    where Peoplevox available 38 − 3 on the order it has not allocated − 2 (buffer) allows 33."""
    with stock_world(tmp_path) as w:
        w.full()
        source, warehouse = ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client)
        order = _sold(w, "TEE-BLK-M", 2)  # Shopify 38 → 36
        release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
        number = f"SHP-{order['legacy_id']}"
        w.pvx.force_status(number, "Allocated")  # Peoplevox 40 → 38
        apply_statuses(w.ledger, [(number, "Allocated")], "test", StatusReport())
        line_id = order["line_items"][0]["id"]
        w.shop.edit_order(
            order["id"], EditSpec(set_quantities=[QuantityChange(line_item_id=line_id, quantity=5)])
        )
        assert w.available()["TEE-BLK-M"] == 33  # Shopify took 3 more off at once
        read_at = datetime.now(UTC)
        edited = list(source.orders_by_ids([order["id"]]).values())
        record_orders(w.ledger, edited, w.rules, "test", datetime.now(UTC), read_at)
        release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))  # past the cut-off
        with w.ledger.transaction() as con:
            stock_snapshots.hint(con, {"TEE-BLK-M": 1}, datetime.now(UTC))  # any later move of the item
        w.changes()
        assert w.pvx_available()["TEE-BLK-M"] == 38
        assert w.available()["TEE-BLK-M"] <= 33, f"Shopify offers {w.available()['TEE-BLK-M']}; 33 allowed"


def test_units_an_edit_adds_to_an_allocated_order_stay_held_back_from_a_figure_read_before_it(
    tmp_path: Path,
) -> None:
    """A tenant whose cut-off is `Picking` lets the change run add units to an `Allocated` order, and
    Peoplevox allocates them at once. A stock figure read before that still counts them available:
    until the edit reached Peoplevox they were held back as units it did not have; once the record
    holds them, the push after the read must still hold them back (the read-then-push race of
    session 8, for edited units). Without it Shopify went 33 → 36 with 35 − 2 = 33 allowed."""
    rules = RULES.with_orders(cutoff_status="Picking")
    with stock_world(tmp_path, rules, {"line_cutoff_status": "Picking"}) as w:
        source, warehouse = _allocated_then_edited_to_five(w)
        read = datetime.now(UTC)
        take_queued(w.source, w.ledger, w.rules, read, run_id="test-items")  # 38: the 3 not in it
        report = release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
        assert report.changes["update"] == 1
        assert w.pvx_available()["TEE-BLK-M"] == 35  # Peoplevox allocated the 3 added units
        push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="test-items")
        assert w.available()["TEE-BLK-M"] <= 33, f"Shopify offers {w.available()['TEE-BLK-M']}; 33 allowed"
        assert report.stock_items_hinted == 1
        w.changes()  # the queued item is read again: 35 − 2
        assert w.available()["TEE-BLK-M"] == 33


def test_units_an_edit_in_doubt_added_to_an_allocated_order_stay_held_back_from_a_figure_read_before_it(
    tmp_path: Path,
) -> None:
    """As above, but the change's answer is lost: the next run finds the order in Peoplevox with the
    added units and records them (`resolve_in_doubt`). The push after must still hold them back from
    a figure read before they were allocated."""
    rules = RULES.with_orders(cutoff_status="Picking")
    with stock_world(tmp_path, rules, {"line_cutoff_status": "Picking"}) as w:
        source, warehouse = _allocated_then_edited_to_five(w)
        take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="test-items")  # 38
        w.pvx.set_faults(drop_after_save_next=1)  # Peoplevox applies the edit; its answer is lost
        assert release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC)).outcome_unknown == 1
        assert w.pvx_available()["TEE-BLK-M"] == 35
        report = release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
        assert report.in_doubt_resolved == {"found_in_peoplevox": 1}
        push(w.storefront, w.ledger, w.rules, datetime.now(UTC), run_id="test-items")
        assert w.available()["TEE-BLK-M"] <= 33, f"Shopify offers {w.available()['TEE-BLK-M']}; 33 allowed"
        assert report.stock_items_hinted == 1
        w.changes()
        assert w.available()["TEE-BLK-M"] == 33


def _allocated_then_edited_to_five(w: World) -> tuple[ShopifyOrdersSource, PeoplevoxWarehouse]:
    """Two TEE-BLK-M sold, released and allocated in Peoplevox (40 → 38), then edited to five in
    Shopify and read by the ledger, the item queued for the next stock read."""
    w.full()
    source, warehouse = ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client)
    order = _sold(w, "TEE-BLK-M", 2)
    release(source, warehouse, w.ledger, w.rules, "test", datetime.now(UTC))
    number = f"SHP-{order['legacy_id']}"
    w.pvx.force_status(number, "Allocated")  # Peoplevox 40 → 38
    apply_statuses(w.ledger, [(number, "Allocated")], "test", StatusReport())
    line_id = order["line_items"][0]["id"]
    w.shop.edit_order(
        order["id"], EditSpec(set_quantities=[QuantityChange(line_item_id=line_id, quantity=5)])
    )
    edited = list(source.orders_by_ids([order["id"]]).values())
    record_orders(w.ledger, edited, w.rules, "test", datetime.now(UTC), datetime.now(UTC))
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, {"TEE-BLK-M": 1}, datetime.now(UTC))
    return source, warehouse
