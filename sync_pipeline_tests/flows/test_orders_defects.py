"""Issue 14's eight reproduced defects, each as a scenario through the real ingest and release
code, a real DuckDB ledger and strict in-memory stand-ins of Shopify and Peoplevox."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from sync_pipeline.lib.flows.ops.run import refresh
from sync_pipeline.lib.flows.orders.ingest import CURSOR, CURSOR_OVERLAP
from sync_pipeline.lib.flows.orders.observed import SETTLE
from sync_pipeline.lib.flows.orders.records import aware
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.standins.world import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, T0)


def injected(world: World, *lines: tuple[str, int], **fields: object) -> str:
    """An order placed, held, released and now `in_warehouse`."""
    oid = world.shop.place(list(lines) or [("TEE-BLK-M", 1)], **fields)
    report = world.release_due()
    assert world.row(oid).state == "in_warehouse", report.summary
    world.tick(5)
    return oid


def test_1_a_fully_refunded_order_is_not_released(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.shop.refund(oid, restock=False)  # refunded during the hold; release reads it first
    world.release()
    assert world.pvx.holds() == {}
    row = world.row(oid)
    assert (row.state, row.financial_status) == ("awaiting_payment", "REFUNDED")  # ingest's own verdict
    assert "refunded" in [e["kind"] for e in world.ledger.events_for(oid)]


@pytest.mark.parametrize(
    ("change", "column", "value"),
    [
        ({"shipping_line_title": "Express"}, "ServiceType", "Express"),
        ({"email": "new@example.com"}, "Email", "new@example.com"),
        # An order moved to another channel (a route change).
        ({"source_name": "pos"}, "ChannelName", "Retail"),
    ],
)
def test_2_a_shipping_method_or_email_change_after_injection_is_pushed(
    world: World, change: dict[str, object], column: str, value: str
) -> None:
    oid = injected(world)
    world.shop.change(oid, **change)
    world.ingest()
    assert world.row(oid).change_pending
    world.release()
    assert world.pvx.header(world.number(oid))[column] == value
    assert not world.row(oid).change_pending and world.open_kinds(oid) == []


def test_3_an_added_item_new_to_peoplevox_is_looked_up_not_lost(world: World) -> None:
    oid = injected(world)
    world.pvx.warehouse.upsert_item("MUG-LOGO", "5099", "Mug")  # created after the catalogue refresh
    world.shop.set_quantity(oid, "MUG-LOGO", 1)
    world.ingest()
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 1, "MUG-LOGO": 1})
    assert world.open_kinds(oid) == []


def test_3_an_added_item_unknown_everywhere_is_pushed_once_its_item_type_exists(world: World) -> None:
    oid = injected(world)
    world.shop.set_quantity(oid, "MUG-LOGO", 1)
    world.ingest()
    world.release()
    assert world.open_kinds(oid) == ["unmapped_sku"]
    assert world.held(oid) == ("New", {"TEE-BLK-M": 1})
    world.pvx.warehouse.upsert_item("MUG-LOGO", "5099", "Mug")  # warehouse ops create it
    world.know_item_types("MUG-LOGO")  # and the hourly catalogue refresh copies it
    world.tick(60)
    world.release()  # no new Shopify change: the open exception is what re-plans it
    assert world.held(oid) == ("New", {"TEE-BLK-M": 1, "MUG-LOGO": 1})
    assert world.open_kinds(oid) == []


def test_3_an_order_replanned_for_its_open_exception_is_read_in_full_only_once_changed(world: World) -> None:
    """The push re-plans every live order with an open unmapped_sku on every run; a cheap version
    check, not a full read, confirms Shopify has not changed it."""
    oid = injected(world)
    world.shop.set_quantity(oid, "MUG-LOGO", 1)
    world.tick(SETTLE.total_seconds())  # read after its second: a snapshot the version check trusts
    world.ingest()
    world.release()
    assert world.open_kinds(oid) == ["unmapped_sku"]
    world.tick(60)
    before = world.shop.reads_by_id
    world.release()  # no Shopify change: re-planned from the ledger's snapshot
    assert world.shop.reads_by_id == before
    assert world.open_kinds(oid) == ["unmapped_sku"] and world.row(oid).state == "in_warehouse"
    world.shop.change(oid, email="new@example.com")  # not ingested yet: the push must read it
    world.tick(60)
    before = world.shop.reads_by_id
    world.release()
    assert world.shop.reads_by_id == before + 1
    assert world.row(oid).snapshot["email"] == "new@example.com"  # recorded as ingest would
    assert world.open_kinds(oid) == ["unmapped_sku"]  # still held back by the unknown item


def test_3_the_ops_recheck_leaves_an_added_items_unmapped_sku_open(world: World) -> None:
    """The exception is what re-plans the change: the ops re-check must not close it because the
    order itself is in the warehouse."""
    oid = injected(world)
    world.shop.set_quantity(oid, "MUG-LOGO", 1)
    world.ingest()
    world.release()
    assert refresh(world.ledger, world.rules.ops, world.now.replace(tzinfo=None), "ops").closed == []
    assert world.open_kinds(oid) == ["unmapped_sku"]
    world.pvx.warehouse.upsert_item("MUG-LOGO", "5099", "Mug")
    world.know_item_types("MUG-LOGO")
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 1, "MUG-LOGO": 1})


def test_4_a_partly_refused_update_records_what_peoplevox_applied(world: World) -> None:
    world.know_item_types("GHOST-1")  # in the catalogue copy; Peoplevox has since retired it
    oid = injected(world)
    world.shop.set_quantity(oid, "TEE-BLK-M", 3)
    world.shop.set_quantity(oid, "GHOST-1", 1)
    world.ingest()
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 3})
    assert world.recorded_items(oid) == {"TEE-BLK-M": 3}
    [failed] = world.open_exceptions(oid)
    assert failed.kind == "change_failed" and "refused: GHOST-1" in failed.message
    assert "Peoplevox now has: TEE-BLK-M × 3" in failed.message
    world.tick(5)
    world.shop.set_quantity(oid, "GHOST-1", 0)
    world.shop.set_quantity(oid, "TEE-BLK-M", 1)  # the customer goes back to one tee
    world.ingest()
    world.release()
    assert world.held(oid) == ("New", {"TEE-BLK-M": 3})  # lowering is never pushed automatically
    manual = [e for e in world.open_exceptions(oid) if e.kind == "needs_manual_edit"]
    assert manual and "TEE-BLK-M (3 → 1)" in manual[0].message


def test_5_a_cancellation_ingested_while_the_refused_header_was_sent_is_not_swallowed(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)], customer_tags=("B2B",))  # routed to Pallet: refused
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)

    def customer_cancels_and_ingest_runs() -> None:
        world.shop.cancel(oid)
        world.ingest()

    world.pvx.before_next_save.append(customer_cancels_and_ingest_runs)
    world.release()
    world.release()
    row = world.row(oid)
    assert (row.state, row.change_pending) == ("cancelled_before_release", False)
    assert world.pvx.holds() == {}
    assert world.open_kinds(oid) == []


def test_5_the_fix_ingested_while_the_refused_header_was_sent_is_retried(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)], customer_tags=("B2B",))
    world.ingest()
    world.tick(world.rules.orders.hold_window_seconds + 1)

    def cx_moves_it_to_the_shop_channel_and_ingest_runs() -> None:
        world.shop.change(oid, customer_tags=())
        world.ingest()

    world.pvx.before_next_save.append(cx_moves_it_to_the_shop_channel_and_ingest_runs)
    world.release()
    world.release()
    assert world.row(oid).state == "in_warehouse"
    assert world.pvx.header(world.number(oid))["ServiceType"] == "Standard"
    assert world.open_kinds(oid) == []


def test_6_a_cancellation_in_the_second_ingest_read_is_not_released(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.shop.cancel(oid)  # the same second: Shopify's updatedAt does not move
    assert world.shop.orders[oid].updated_at == world.shop.second()
    world.tick(world.rules.orders.hold_window_seconds + 1)
    world.release()
    assert world.pvx.holds() == {}
    assert world.row(oid).state == "cancelled_before_release"


def test_6_a_same_second_update_behind_a_long_read_is_caught_by_the_next_poll(world: World) -> None:
    world.shop.drop_webhooks = True  # polling alone must find it
    first = world.shop.place([("TEE-BLK-M", 1)])

    def meanwhile() -> None:
        world.shop.cancel(first)  # in the second the read just served
        world.tick(40)
        world.shop.place([("CAP-BLK-OS", 1)])  # and the read pages on to newer orders

    world.shop.during_next_read.append(meanwhile)
    world.ingest()
    # The listing served the first version; whichever version the full read then got, it read it
    # within its second, so the cursor stays where the next poll's overlap covers that second.
    row = world.row(first)
    assert row.snapshot_read_at is not None and row.shopify_updated_at is not None
    assert row.snapshot_read_at < row.shopify_updated_at + SETTLE
    assert (
        datetime.fromisoformat(str(world.ledger.get_cursor(CURSOR)))
        <= aware(row.shopify_updated_at) + CURSOR_OVERLAP
    )  # type: ignore[operator]
    world.tick(5)
    world.ingest()
    assert world.row(first).state == "cancelled_before_release"


def test_6_a_same_second_update_named_by_a_webhook_is_read(world: World) -> None:
    oid = world.shop.place([("TEE-BLK-M", 1)])
    world.ingest()
    world.shop.cancel(oid)  # same second; its webhook names that second
    assert world.ingest_notified() == 1
    assert world.row(oid).state == "cancelled_before_release"
    world.tick(10)
    world.ingest()
    assert world.ingest_notified() == 0  # read after its second was over: nothing more to read


def test_7_a_cancellation_read_by_the_change_push_is_stored_with_its_columns(world: World) -> None:
    oid = injected(world)
    world.pvx.progress(world.number(oid), "Allocated")  # past the cut-off
    world.shop.set_quantity(oid, "TEE-BLK-M", 2)
    world.ingest()
    world.tick(5)
    world.shop.cancel(oid)  # the push reads this before ingest does
    world.release()
    row = world.row(oid)
    assert row.cancelled_at is not None and row.financial_status == "REFUNDED"
    world.ingest()
    with world.ledger.transaction() as con:
        live = ledger_orders.cancelled_but_active_in_warehouse(con, ("Cancelled",))
    assert [r[0] for r in live] == [oid]  # the ERROR check sees it
    assert "change_after_cutoff" in world.open_kinds(oid)


def test_8_one_refused_change_does_not_block_the_changes_behind_it(world: World) -> None:
    stuck = injected(world)
    other = injected(world)
    world.shop.change(stuck, email="new@example.com")
    world.shop.set_quantity(stuck, "TEE-BLK-M", 2)
    world.ingest()
    world.tick(5)
    world.shop.cancel(other)
    world.ingest()
    world.pvx.fault_numbers.add(world.number(stuck))
    report = world.release()
    assert report.changes["cancel"] == 1
    assert world.held(other) is not None and world.held(other)[0] == "Cancelled"
    [failed] = world.open_exceptions(stuck)
    assert failed.kind == "change_failed" and "truncated" in failed.message
    assert not world.row(stuck).change_pending
