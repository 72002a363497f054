"""Ingest then release against both sandboxes, without Dagster: the flow's plumbing works."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.sandbox.shopify.control import AddressSpec, LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.orders.conftest import Stack


def test_paid_order_reaches_peoplevox_once(stack: Stack) -> None:
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M", quantity=2), LineSpec(sku="BUNDLE-NATIVE")],
            shipping_address=AddressSpec(
                name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU"
            ),
        )
    )
    now = datetime.now(UTC)
    report = ingest(stack.source, stack.ledger, stack.rules, "test", now)
    assert report.orders_read >= 1
    first = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert first.injected == 1, first.summary
    second = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert second.injected == 0
    orders = stack.pvx.state().orders
    assert len(orders) == 1
    # The native bundle's components merge with the loose tees: 2 + 2 × 1 bundle.
    assert {line.item_code: line.quantity_ordered for line in orders[0].lines} == {
        "TEE-BLK-M": 4,
        "CAP-NVY": 1,
    }


def test_bundle_components_new_to_peoplevox_are_looked_up_not_held(stack: Stack) -> None:
    """No catalogue refresh has run: the config bundle's components must be looked up in
    Peoplevox before the order is held for them."""
    stack.shop.add_product(ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER")]))
    stack.pvx.seed_items([("SOCK-BLK-OS", "5099999999999", "Socks")])
    stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="BUNDLE-STARTER")],
            shipping_address=AddressSpec(
                name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU"
            ),
        )
    )
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    report = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert (report.injected, report.held) == (1, 0), report.summary
    [order] = stack.pvx.state().orders
    assert {line.item_code: line.quantity_ordered for line in order.lines} == {
        "TEE-BLK-M": 1,
        "TEE-WHT-M": 1,
        "SOCK-BLK-OS": 2,
    }


def test_a_lost_save_answer_is_confirmed_by_lookup_not_resent(stack: Stack) -> None:
    """Peoplevox applies the headers save but the connection drops before its answer."""
    address = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")
    for quantity in (1, 2, 3):
        stack.shop.place_order(
            OrderSpec(lines=[LineSpec(sku="TEE-BLK-M", quantity=quantity)], shipping_address=address)
        )
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    stack.pvx.set_faults(drop_after_save_next=1)  # the headers are applied, the answer is lost
    first = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert (first.injected, first.outcome_unknown) == (0, 3)
    second = release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    # Found in Peoplevox without items: only the items are sent, no header is sent twice.
    assert second.in_doubt_resolved == {"items_completed": 3}
    assert second.injected == 3
    counters = stack.pvx.state().counters
    assert counters.save_rows["Sales orders"] == 3 and counters.save_rows["Sales order items"] == 3
    quantities = sorted(line.quantity_ordered for o in stack.pvx.state().orders for line in o.lines)
    assert quantities == [1, 2, 3]
