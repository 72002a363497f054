"""A package whose lines Shopify assigned to two locations (issue 8).

Real Shopify takes one location per `fulfillmentCreate` ("All fulfillment orders must belong to
the same order and location", ../shared/reference/shopify/API.md §5). The flow used to fulfil the
part at one location, record the whole package as fulfilled and close its exception: the ledger
said `fulfilled` while Shopify still had a line to fulfil. Now the package waits whole, with an
exception for CX saying what to move, and nothing is claimed that Shopify does not hold.
"""

from __future__ import annotations

import pytest

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, emails_for, into_warehouse, run_once, shopify_lines
from sync_pipeline_tests.orders.conftest import Stack


def test_a_package_over_two_locations_waits_whole_with_an_exception(stack: Stack) -> None:
    stack.shop.add_location("Shop")
    split = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M"), LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK
        )
    )
    numbers = into_warehouse(stack)
    stack.pvx.despatch(numbers[split["id"]], [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.blocked) == (0, 1), done.summary
    assert shopify_lines(stack, split["id"]) == {} and emails_for(stack, split["id"]) == []
    with stack.ledger.transaction() as con:
        package = con.execute("SELECT state, line_quantities FROM despatch_packages").fetchall()
        order_state = con.execute("SELECT despatch_state FROM orders").fetchall()
    assert package == [(states.BLOCKED, None)]
    assert order_state == [(states.DESPATCHED,)]  # shipped, not in Shopify
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfillment_order_closed", "cx")
    assert "other location" in problem.message and "one location per fulfilment" in problem.message
    # Tried again next run, still whole or nothing.
    _, again = run_once(stack)
    assert (again.fulfilled, again.blocked) == (0, 1) and shopify_lines(stack, split["id"]) == {}


@pytest.mark.parametrize("action", ["close", "incomplete"])
def test_a_package_with_one_line_on_a_closed_fulfilment_order_waits_whole(stack: Stack, action: str) -> None:
    """One line's fulfilment order is CLOSED (by hand) or INCOMPLETE (a fulfilment service gave
    up) while the rest of the package is fulfillable: the package is one parcel, so it waits whole
    for CX instead of being fulfilled in part and recorded as all fulfilled."""
    stack.shop.add_location("Shop")
    order = stack.shop.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-BLK-M"), LineSpec(sku="CAP-NVY", location="Shop")], shipping_address=UK
        )
    )
    numbers = into_warehouse(stack)
    snapshot = stack.shop.fulfillment_orders(order["id"], action, location="Shop")
    statuses = {fo["location"]: fo["status"] for fo in snapshot["fulfillment_orders"]}
    assert statuses == {"Warehouse": "OPEN", "Shop": action.upper().replace("CLOSE", "CLOSED")}
    stack.pvx.despatch(numbers[order["id"]], [{"TEE-BLK-M": 1, "CAP-NVY": 1}])
    _, done = run_once(stack)
    assert (done.fulfilled, done.blocked) == (0, 1), done.summary
    assert shopify_lines(stack, order["id"]) == {} and emails_for(stack, order["id"]) == []
    with stack.ledger.transaction() as con:
        package = con.execute("SELECT state, line_quantities FROM despatch_packages").fetchall()
    assert package == [(states.BLOCKED, None)]
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("fulfillment_order_closed", "cx")
    assert "Cap" in problem.message or "CAP-NVY" in problem.message, problem.message
    _, again = run_once(stack)
    assert (again.fulfilled, again.blocked) == (0, 1) and shopify_lines(stack, order["id"]) == {}
