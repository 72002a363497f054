"""Fulfilment orders, partial fulfilment with tracking, and asynchronous cancellation."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.shopify import ShopifyUserErrors
from sync_pipeline.lib.shopify.models import TrackingInfo
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

from .conftest import Sandbox


def test_partial_then_complete_fulfilment(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=3), LineSpec(sku="MUG"), LineSpec(sku="GIFT-25")])
    )
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "OPEN" and "CREATE_FULFILLMENT" in fo.actions
    assert fo.location_id == sandbox.location_id()
    assert [(x.line_item.sku, x.remaining_quantity) for x in fo.line_items] == [
        ("TEE-S", 3),
        ("MUG", 1),
    ]  # no gift card
    tee = fo.line_items[0]
    made = sandbox.client.create_fulfillment(
        {fo.id: {tee.id: 2}},
        tracking=TrackingInfo(company="Royal Mail", number="RM123GB", url="https://track.test/RM123GB"),
        notify_customer=True,
    )
    assert made.name == "#1001.1" and made.tracking_info[0].number == "RM123GB"
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "IN_PROGRESS"
    assert [x.remaining_quantity for x in fo.line_items] == [1, 1]
    order = sandbox.client.get_order(placed["id"])
    assert order is not None and order.display_fulfillment_status == "PARTIALLY_FULFILLED"
    events = [e["kind"] for e in sandbox.control.get_order(placed["id"])["events"]]
    assert "shipping_confirmation_sent" in events
    with pytest.raises(ShopifyUserErrors, match="quantity"):
        sandbox.client.create_fulfillment({fo.id: {tee.id: 2}})  # only 1 remains
    sandbox.client.create_fulfillment({fo.id: None})  # the rest
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "CLOSED" and fo.actions == set()
    order = sandbox.client.get_order(placed["id"])
    assert order is not None and order.display_fulfillment_status == "FULFILLED"
    stock = {s["sku"]: s for s in sandbox.control.state()["stock"]}
    assert (stock["TEE-S"]["available"], stock["TEE-S"]["committed"], stock["TEE-S"]["on_hand"]) == (
        47,
        0,
        47,
    )
    with pytest.raises(ShopifyUserErrors, match="unfulfillable status"):
        sandbox.client.create_fulfillment({fo.id: None})


def test_cancel_is_asynchronous_and_restocks(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", quantity=5)]))
    job = sandbox.client.cancel_order(placed["id"], reason="CUSTOMER", restock=True)
    assert not job.done
    assert sandbox.client.wait_for_job(job.id, timeout=5, poll_seconds=0.05)
    order = sandbox.client.get_order(placed["id"])
    assert order is not None and order.cancelled_at is not None and order.cancel_reason == "CUSTOMER"
    assert order.closed
    stock = {s["sku"]: s for s in sandbox.control.state()["stock"]}
    assert (stock["MUG"]["available"], stock["MUG"]["committed"]) == (50, 0)
    with pytest.raises(ShopifyUserErrors) as again:
        sandbox.client.cancel_order(placed["id"])
    assert again.value.codes == ["INVALID"]


def test_fulfilment_over_the_input_array_cap_is_refused_before_sending(sandbox: Sandbox) -> None:
    lines = {f"gid://shopify/FulfillmentOrderLineItem/{i}": 1 for i in range(251)}
    before = sandbox.client.stats.requests
    with pytest.raises(ValueError, match="at most 250"):
        sandbox.client.create_fulfillment({"gid://shopify/FulfillmentOrder/1": lines})
    assert sandbox.client.stats.requests == before


def test_one_fulfilment_order_per_assigned_location(sandbox: Sandbox) -> None:
    sandbox.seed()
    sandbox.control.add_location("Store")
    placed = sandbox.control.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=2), LineSpec(sku="MUG", location="Store")])
    )
    state = sandbox.client.get_orders_fulfilment_state([placed["id"], "gid://shopify/Order/999999"])
    assert list(state) == [placed["id"]]
    fos = state[placed["id"]].fulfillment_orders
    assert [(fo.assigned_location.name, [x.line_item.sku for x in fo.line_items]) for fo in fos] == [
        ("Warehouse", ["TEE-S"]),
        ("Store", ["MUG"]),
    ]
    with pytest.raises(ShopifyUserErrors, match="same order and location"):
        sandbox.client.create_fulfillment({fos[0].id: None, fos[1].id: None})


def test_held_and_closed_fulfilment_orders_refuse_fulfilment(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", quantity=2)]))
    sandbox.control.fulfillment_orders(placed["id"], "hold")
    state = sandbox.client.get_orders_fulfilment_state([placed["id"]])[placed["id"]]
    (fo,) = state.fulfillment_orders
    assert fo.status == "ON_HOLD" and fo.actions == {"RELEASE_HOLD"}
    assert state.display_fulfillment_status == "ON_HOLD"
    with pytest.raises(ShopifyUserErrors, match="unfulfillable status= on_hold"):
        sandbox.client.create_fulfillment({fo.id: None})
    sandbox.control.fulfillment_orders(placed["id"], "release")
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "OPEN" and "CREATE_FULFILLMENT" in fo.actions
    sandbox.client.create_fulfillment({fo.id: {fo.line_items[0].id: 1}})
    sandbox.control.fulfillment_orders(placed["id"], "close")
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert (fo.status, fo.line_items[0].remaining_quantity) == ("CLOSED", 1)
    with pytest.raises(ShopifyUserErrors, match="unfulfillable status= closed"):
        sandbox.client.create_fulfillment({fo.id: None})


def test_tracking_added_later_and_emails_recorded_once_per_fulfilment(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=2)]))
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    line = fo.line_items[0]
    first = sandbox.client.create_fulfillment({fo.id: {line.id: 1}}, notify_customer=True)
    assert first.tracking_info == [] or first.tracking_info[0].number is None
    sandbox.client.create_fulfillment(
        {fo.id: {line.id: 1}}, tracking=TrackingInfo(company="DPD UK", number="155"), notify_customer=False
    )
    tracking = TrackingInfo(company="Royal Mail", number="RM9GB", url="https://t.test/RM9GB")
    updated = sandbox.client.update_fulfillment_tracking(first.id, tracking)
    assert updated.tracking_info[0].number == "RM9GB"
    read_back = sandbox.client.get_order_fulfillments(placed["id"])
    assert [(f.id, f.quantities, [t.number for t in f.tracking_info]) for f in read_back] == [
        (first.id, {line.line_item.id: 1}, ["RM9GB"]),
        (read_back[1].id, {line.line_item.id: 1}, ["155"]),
    ]
    assert [(e["fulfillment"], e["kind"]) for e in sandbox.control.emails()] == [
        (first.id, "shipping_confirmation")
    ]
    sandbox.client.update_fulfillment_tracking(first.id, tracking, notify_customer=True)
    assert [e["kind"] for e in sandbox.control.emails()] == ["shipping_confirmation", "shipping_update"]
    with pytest.raises(ShopifyUserErrors, match="does not exist"):
        sandbox.client.update_fulfillment_tracking("gid://shopify/Fulfillment/1", tracking)
