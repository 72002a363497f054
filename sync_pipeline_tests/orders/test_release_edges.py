"""Release's edge cases against both sandboxes: races with ingest (also within one second), and a
partly refused order."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.observed import record_orders
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    CancelSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    VariantSpec,
)
from sync_pipeline_tests.orders.conftest import Stack

ADDRESS = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")


def _state(stack: Stack) -> list[tuple[str, str | None]]:
    with stack.ledger.transaction() as con:
        return con.execute("SELECT state, pvx_status FROM orders").fetchall()


def test_a_cancellation_ingested_while_release_reads_shopify_wins(stack: Stack) -> None:
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    placed = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS))
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))

    class CancelledMeanwhile:
        """Answers the version check as it was, then lets the customer cancel and an ingest run."""

        def __getattr__(self, name: str) -> object:
            return getattr(stack.source, name)

        def order_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
            before = stack.source.order_versions(ids)
            stack.shop.cancel_order(placed["id"], CancelSpec())
            ingest(stack.source, stack.ledger, stack.rules, "concurrent ingest", datetime.now(UTC))
            return before

    report = release(
        CancelledMeanwhile(), stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC)
    )  # type: ignore[arg-type]
    assert report.superseded == 1 and report.injected == 0
    assert stack.pvx.state().orders == []
    assert _state(stack) == [("cancelled_before_release", None)]


def test_an_order_with_a_refused_item_is_live_and_its_cancellation_still_reaches_peoplevox(
    stack: Stack,
) -> None:
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    # The ledger's catalogue copy says GHOST-1 exists; Peoplevox has since retired it.
    stack.shop.add_product(ProductSpec(title="Ghost", variants=[VariantSpec(sku="GHOST-1")]))
    with stack.ledger.transaction() as con:
        ledger_catalogue.upsert_item_types(con, [ItemTypeRow("GHOST-1", None, None)])
    placed = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M", quantity=2), LineSpec(sku="GHOST-1")], shipping_address=ADDRESS
        )
    )
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    first = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert first.failed == 1
    [order] = stack.pvx.state().orders
    assert {line.item_code: line.quantity_ordered for line in order.lines} == {"TEE-BLK-M": 2}
    assert _state(stack) == [("in_warehouse", "New")]
    [problem] = stack.ledger.list_open_exceptions("injection_failed")
    assert "GHOST-1" in problem.message and problem.owner == "warehouse_ops"

    stack.shop.cancel_order(placed["id"], CancelSpec())
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    second = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert second.changes == {"cancel": 1}
    assert stack.pvx.state().orders[0].status == "Cancelled"


def test_a_cancellation_in_the_second_the_order_was_read_is_not_released(stack: Stack) -> None:
    """Shopify's updatedAt has one-second resolution: the sandbox's `same_second_updates` lets a
    cancellation land in the second an ingest read the order, with the same updatedAt."""
    stack.shop.set_faults(FaultSettings(same_second_updates=True))
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    for _attempt in range(10):
        # Start on a fresh second so the read and the cancellation fit in one (retried if not).
        time.sleep(1.02 - time.time() % 1)
        placed = stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS)
        )
        read_at = datetime.now(UTC)
        [first] = stack.source.orders_by_ids([placed["id"]]).values()
        stack.shop.cancel_order(placed["id"], CancelSpec())
        [second] = stack.source.orders_by_ids([placed["id"]]).values()
        # The flow's own recording of that first read (as ingest records it).
        record_orders(stack.ledger, [first], stack.rules, "ingest", read_at, read_at)
        if second.updated_at == first.updated_at:
            break
    assert second.updated_at == first.updated_at and second.cancelled_at is not None
    report = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert report.injected == 0
    assert stack.pvx.state().orders == []
    with stack.ledger.transaction() as con:
        states = con.execute("SELECT state FROM orders WHERE shopify_order_id = ?", [placed["id"]]).fetchall()
    assert states == [("cancelled_before_release",)]
