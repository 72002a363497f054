"""A reviewer's attacks on the despatches flow (session 10): what the plan reads of Shopify's
fulfilment orders, over real HTTP against both sandboxes and a real ledger file."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.sandbox.shopify.control import EditSpec, LineSpec, OrderSpec, QuantityChange
from sync_pipeline_tests.despatches.helpers import (
    UK,
    despatch_rules,
    emails_for,
    into_warehouse,
    run_once,
    shopify_lines,
)
from sync_pipeline_tests.orders.conftest import Stack

STORES = ["Shop 1", "Shop 2", "Shop 3", "Shop 4"]


def test_a_package_of_an_order_with_five_fulfilment_orders_is_fulfilled(stack: Stack) -> None:
    """An order whose lines Shopify assigned to five locations has five fulfilment orders (moves
    and splits add more over an order's life). The batch read takes two a order and reads an order
    with more again on its own, but that read took one page (4 fulfilment orders at 100 lines
    each) and did not look for the next: the fifth fulfilment order's line was missing, the
    catch-up check read that as an edit the ledger had not heard of, and the package waited
    (`pending`, then `order_edit_not_read` for the integration owner) although nothing changed."""
    for store in STORES:
        stack.shop.add_location(store)
    others = ["TEE-BLK-S", "TEE-BLK-L", "TEE-WHT-M", "HOODIE-GRY-M"]
    oid = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="CAP-NVY")]
            + [LineSpec(sku=sku, location=store) for sku, store in zip(others, STORES, strict=True)],
            shipping_address=UK,
        )
    )["id"]
    assert len(stack.source.client.get_fulfillment_orders(oid, line_items=1)) == 5
    package = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])["packages"][0]["number"]
    _, done = run_once(stack)
    with stack.ledger.transaction() as con:
        row = ledger_despatches.get_many(con, [package])[package]
    assert row.state == states.FULFILLED, (row.state, row.state_reason, done.summary)
    assert shopify_lines(stack, oid) == {"CAP-NVY": 1}
    assert len(emails_for(stack, oid)) == 1


def test_every_fulfilment_order_and_line_is_read_past_the_first_pages(stack: Stack) -> None:
    """The client side of the above, with pages small enough that both kinds of paging happen:
    more fulfilment orders than one page holds, and one with more lines than its first page."""
    for store in STORES:
        stack.shop.add_location(store)
    here = ["CAP-NVY", "TEE-BLK-M", "MUG-LOGO"]
    others = ["TEE-BLK-S", "TEE-BLK-L", "TEE-WHT-M", "HOODIE-GRY-M"]
    order = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku=sku, quantity=2) for sku in here]
            + [LineSpec(sku=sku, location=store) for sku, store in zip(others, STORES, strict=True)],
            shipping_address=UK,
        )
    )
    client = stack.source.client
    client.max_query_cost = 2 * (6 + 2 * 2) + 3  # two fulfilment orders of two lines a page
    fos = client.get_fulfillment_orders(order["id"], line_items=2)
    assert len(fos) == 5 and len({fo.id for fo in fos}) == 5
    skus = sorted(li.line_item.sku or "" for fo in fos for li in fo.line_items)
    assert skus == sorted(here + others)
    assert {
        li.line_item.sku: li.total_quantity for fo in fos for li in fo.line_items if li.line_item.sku in here
    } == {sku: 2 for sku in here}


def _open(stack: Stack) -> set[tuple[str, str]]:
    return {(e.kind, e.subject or "") for e in stack.ledger.list_open_exceptions()}


def test_an_order_cancelled_while_its_package_waits_for_an_unread_edit_closes_the_wait(stack: Stack) -> None:
    """A package waits for the orders flow to read an edit (`order_edit_not_read`, integration),
    then the order is cancelled and the orders flow reads that: the package is blocked as shipped
    after a cancel (CX, finance). The wait's exception was closed only when the package settled,
    which a cancelled order's package never does: the integration owner was left chasing an edit
    nobody needs read."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    number = into_warehouse(stack)[oid]
    line = stack.shop.get_order(oid)["line_items"][0]["id"]
    stack.shop.edit_order(oid, EditSpec(set_quantities=[QuantityChange(line_item_id=line, quantity=1)]))
    package = stack.pvx.despatch(number, [{"CAP-NVY": 2}])["packages"][0]["number"]
    run_once(stack, rules=despatch_rules(stack, order_catch_up_minutes=0))
    assert ("order_edit_not_read", package) in _open(stack)
    stack.shop.cancel_order(oid)
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    run_once(stack, rules=despatch_rules(stack, order_catch_up_minutes=0))
    with stack.ledger.transaction() as con:
        assert ledger_despatches.get_many(con, [package])[package].state == states.BLOCKED
    kinds = _open(stack)
    assert ("shipped_after_cancel", package) in kinds
    assert ("order_edit_not_read", package) not in kinds


def test_an_order_cancelled_while_its_fulfilment_order_is_held_closes_the_hold(stack: Stack) -> None:
    """A package blocked by a held fulfilment order (`fulfillment_on_hold`: CX, "release the hold"),
    then the order is cancelled: the package is blocked as shipped after a cancel. The hold's
    exception closed only when the package settled, which it never does now: CX was left asked to
    release a hold on a cancelled order."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
    number = into_warehouse(stack)[oid]
    stack.shop.fulfillment_orders(oid, "hold")
    package = stack.pvx.despatch(number, [{"CAP-NVY": 1}])["packages"][0]["number"]
    run_once(stack)
    assert ("fulfillment_on_hold", package) in _open(stack)
    stack.shop.cancel_order(oid)
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    run_once(stack)
    kinds = _open(stack)
    assert ("shipped_after_cancel", package) in kinds
    assert ("fulfillment_on_hold", package) not in kinds


def test_the_unit_still_owed_after_a_returned_one_was_refunded_is_fulfilled(stack: Stack) -> None:
    """Two caps ordered, shipped in two parcels. The first arrives, the customer returns it and is
    refunded (restock type RETURN) before the second ships: Shopify's line is now 2 ordered, 1
    refunded, 1 fulfilled, and its fulfilment order still has 1 unit to fulfil. The orders flow
    reads the refund (currentQuantity 1), the plan counts the returned unit as fulfilled against
    that 1, and the second parcel's cap becomes "shipped more than ordered": not fulfilled in
    Shopify, no shipping email for a parcel on its way, warehouse ops told of an over-despatch
    that did not happen."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    number = into_warehouse(stack)[oid]
    stack.pvx.despatch(number, [{"CAP-NVY": 1}])
    run_once(stack)
    line = stack.shop.get_order(oid)["line_items"][0]["id"]
    stack.source.client.create_refund(oid, {line: (1, "RETURN")}, idempotency_key="returned-cap")
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    (fo,) = stack.source.client.get_fulfillment_orders(oid)
    assert fo.line_items[0].remaining_quantity == 1  # Shopify still expects the second cap
    second = stack.pvx.despatch(number, [{"CAP-NVY": 1}])["packages"][0]["number"]
    run_once(stack)
    assert shopify_lines(stack, oid) == {"CAP-NVY": 2}
    assert len(emails_for(stack, oid)) == 2
    assert ("over_despatched", second) not in _open(stack)
