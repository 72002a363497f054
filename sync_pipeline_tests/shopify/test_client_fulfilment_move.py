"""`fulfillmentOrderMove` over HTTP: whole and partial moves, and what Shopify refuses."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.shopify import ShopifyUserErrors
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, StockSpec

from .conftest import Sandbox


def _two_locations(sandbox: Sandbox) -> tuple[str, str]:
    sandbox.seed()
    shop = sandbox.control.add_location("Shop")
    sandbox.control.set_stock([StockSpec(sku=s, available=5, location="Shop") for s in ("TEE-S", "MUG")])
    return sandbox.location_id(), shop


def test_a_whole_move_reassigns_the_fulfilment_order_and_its_committed_stock(sandbox: Sandbox) -> None:
    home, shop = _two_locations(sandbox)
    placed = sandbox.control.place_order(
        OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=2, location="Shop")])
    )
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.location_id == shop and "MOVE" in fo.actions
    moved = sandbox.client.move_fulfillment_order(fo.id, home)
    assert (moved.id, moved.location_id, moved.status) == (fo.id, home, "OPEN")
    assert [(x.line_item.sku, x.remaining_quantity) for x in moved.line_items] == [("TEE-S", 2)]
    stock = {(s["sku"], s["location"]): s for s in sandbox.control.state()["stock"]}
    assert stock[("TEE-S", "Shop")]["committed"] == 0 and stock[("TEE-S", "Shop")]["available"] == 5
    assert stock[("TEE-S", "Warehouse")]["committed"] == 2
    # Fulfilled from its new location in one call.
    made = sandbox.client.create_fulfillment({moved.id: None})
    assert made.name == "#1001.1"
    with pytest.raises(ShopifyUserErrors, match="cannot be moved"):
        sandbox.client.move_fulfillment_order(fo.id, shop)  # CLOSED now


def test_a_partial_move_closes_the_original_and_gives_new_ids(sandbox: Sandbox) -> None:
    home, shop = _two_locations(sandbox)
    placed = sandbox.control.place_order(
        OrderSpec(
            lines=[LineSpec(sku="TEE-S", quantity=3, location="Shop"), LineSpec(sku="MUG", location="Shop")]
        )
    )
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    tee, _mug = fo.line_items
    moved = sandbox.client.move_fulfillment_order(fo.id, home, {tee.id: 2})
    assert moved.id != fo.id and moved.location_id == home
    assert [(x.line_item.sku, x.remaining_quantity) for x in moved.line_items] == [("TEE-S", 2)]
    fos = {f.id: f for f in sandbox.client.get_fulfillment_orders(placed["id"])}
    assert fos[fo.id].status == "CLOSED" and fos[fo.id].actions == set()
    left = [f for f in fos.values() if f.id not in (fo.id, moved.id)]
    assert [
        (f.location_id, [(x.line_item.sku, x.remaining_quantity) for x in f.line_items]) for f in left
    ] == [(shop, [("TEE-S", 1), ("MUG", 1)])]
    # The old ids are gone for fulfilling; the new ones work.
    with pytest.raises(ShopifyUserErrors, match="unfulfillable status"):
        sandbox.client.create_fulfillment({fo.id: {tee.id: 1}})
    sandbox.client.create_fulfillment({moved.id: None})
    assert {
        li["sku"]: li["fulfilled_quantity"] for li in sandbox.control.get_order(placed["id"])["line_items"]
    } == {
        "TEE-S": 2,
        "MUG": 0,
    }


def test_moves_shopify_refuses(sandbox: Sandbox) -> None:
    home, shop = _two_locations(sandbox)
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", location="Shop")]))
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    with pytest.raises(ShopifyUserErrors, match="already assigned"):
        sandbox.client.move_fulfillment_order(fo.id, shop)
    with pytest.raises(ShopifyUserErrors, match="quantity"):
        sandbox.client.move_fulfillment_order(fo.id, home, {fo.line_items[0].id: 2})
    sandbox.control.fulfillment_orders(placed["id"], "report_progress")
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "IN_PROGRESS" and "MOVE" not in fo.actions and "CREATE_FULFILLMENT" in fo.actions
    with pytest.raises(ShopifyUserErrors) as refused:
        sandbox.client.move_fulfillment_order(fo.id, home)
    assert refused.value.codes == ["CANNOT_MOVE_FULFILLMENT_ORDER_WITH_REPORTED_PROGRESS"]
    sandbox.control.fulfillment_orders(placed["id"], "open")
    sandbox.control.fulfillment_orders(placed["id"], "hold")
    with pytest.raises(ShopifyUserErrors, match="ON_HOLD cannot be moved"):
        sandbox.client.move_fulfillment_order(fo.id, home)
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.location_id == shop  # nothing moved
