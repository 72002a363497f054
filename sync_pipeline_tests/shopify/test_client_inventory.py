"""Catalogue and stock through the client: variants, levels, CAS, idempotency, bundle parents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sync_pipeline.lib.shopify import ShopifyQueryError, ShopifyUserErrors, documents
from sync_pipeline.lib.shopify.models import StockDelta, StockWrite
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ProductSpec, VariantSpec

from .conftest import Sandbox


def test_variants_locations_and_bundle_components(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    variants = {v.sku: v for v in sandbox.client.iter_product_variants()}
    assert set(variants) == {"TEE-S", "TEE-M", "MUG", "GIFT-25", "BUNDLE-BRK"}
    assert variants["TEE-S"].barcode == "5000001"
    assert variants["TEE-S"].inventory_item.id == made["TEE-S"]["inventory_item_id"]
    bundle = variants["BUNDLE-BRK"]
    assert bundle.requires_components
    assert [(c.product_variant.sku, c.quantity) for c in bundle.components] == [("TEE-S", 1), ("MUG", 2)]
    assert [v.sku for v in sandbox.client.iter_product_variants("sku:MUG")] == ["MUG"]
    (loc,) = sandbox.client.list_locations()
    assert loc.name == "Warehouse" and loc.is_active


def test_levels_reflect_orders(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG", quantity=4)]))
    item = made["MUG"]["inventory_item_id"]
    levels = sandbox.client.get_inventory_levels(
        [item], sandbox.location_id(), ("available", "committed", "on_hand")
    )
    assert levels[item].quantities == {"available": 46, "committed": 4, "on_hand": 50}


def test_set_quantities_with_compare_and_set(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    loc = sandbox.location_id()
    tee, mug = made["TEE-S"]["inventory_item_id"], made["MUG"]["inventory_item_id"]
    groups = sandbox.client.set_inventory_quantities(
        [StockWrite(inventory_item_id=tee, location_id=loc, quantity=7, expected=50),
         StockWrite(inventory_item_id=mug, location_id=loc, quantity=60, expected=None)],
        reference_document_uri="gid://pvx-sync/SyncJob/1",
    )  # fmt: skip
    assert groups[0].reference_document_uri == "gid://pvx-sync/SyncJob/1"
    assert {c.name for c in groups[0].changes} == {"available", "on_hand"}
    with pytest.raises(ShopifyUserErrors) as stale:
        sandbox.client.set_inventory_quantities(
            [StockWrite(inventory_item_id=mug, location_id=loc, quantity=1, expected=60),
             StockWrite(inventory_item_id=tee, location_id=loc, quantity=1, expected=50)]
        )  # fmt: skip
    assert stale.value.codes == ["CHANGE_FROM_QUANTITY_STALE"]
    assert stale.value.errors[0].field == ["input", "quantities", "1", "changeFromQuantity"]
    levels = sandbox.client.get_inventory_levels([tee, mug], loc)
    assert (levels[tee].available, levels[mug].available) == (7, 60)  # all or nothing: mug not written


def test_bundle_parent_write_fails_the_whole_batch(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    loc = sandbox.location_id()
    with pytest.raises(ShopifyUserErrors) as err:
        sandbox.client.set_inventory_quantities(
            [StockWrite(inventory_item_id=made["TEE-M"]["inventory_item_id"], location_id=loc, quantity=3, expected=None),
             StockWrite(inventory_item_id=made["BUNDLE-BRK"]["inventory_item_id"], location_id=loc, quantity=3,
                        expected=None)]
        )  # fmt: skip
    assert err.value.codes == ["NON_MUTABLE_INVENTORY_ITEM"]
    assert (
        sandbox.client.get_inventory_levels([made["TEE-M"]["inventory_item_id"]], loc)[
            made["TEE-M"]["inventory_item_id"]
        ].available
        == 50
    )


def test_idempotent_replay_returns_the_first_result(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    loc = sandbox.location_id()
    item = made["MUG"]["inventory_item_id"]

    def adjust(delta: int, key: str) -> dict:
        variables = {"key": key, "input": {"name": "available", "reason": "correction", "changes": [
            {"inventoryItemId": item, "locationId": loc, "delta": delta, "changeFromQuantity": None}]}}  # fmt: skip
        return sandbox.client.execute("Adj", documents.INVENTORY_ADJUST_QUANTITIES, variables)[
            "inventoryAdjustQuantities"
        ]

    first = adjust(5, "k-1")
    replay = adjust(5, "k-1")
    assert replay["inventoryAdjustmentGroup"]["id"] == first["inventoryAdjustmentGroup"]["id"]
    assert sandbox.client.get_inventory_levels([item], loc)[item].available == 55  # applied once
    mismatch = adjust(6, "k-1")
    assert mismatch["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    sandbox.client.adjust_inventory_quantities([StockDelta(inventory_item_id=item, location_id=loc, delta=-5,
                                                           expected=55)])  # fmt: skip
    assert sandbox.client.get_inventory_levels([item], loc)[item].available == 50


def test_inventory_mutations_require_idempotent_and_change_from(sandbox: Sandbox) -> None:
    made = sandbox.seed()
    loc = sandbox.location_id()
    item = made["MUG"]["inventory_item_id"]
    no_key = documents.INVENTORY_SET_QUANTITIES.replace(" @idempotent(key: $key)", "").replace(
        ", $key: String!", ""
    )
    with pytest.raises(ShopifyQueryError) as err:
        sandbox.client.execute("NoKey", no_key, {"input": {"name": "available", "reason": "correction", "quantities": [
            {"inventoryItemId": item, "locationId": loc, "quantity": 1, "changeFromQuantity": None}]}})  # fmt: skip
    assert "@idempotent" in str(err.value)
    data = sandbox.client.execute("NoCfq", documents.INVENTORY_SET_QUANTITIES, {"key": "x", "input": {
        "name": "available", "reason": "correction",
        "quantities": [{"inventoryItemId": item, "locationId": loc, "quantity": 1}]}})  # fmt: skip
    assert data["inventorySetQuantities"]["userErrors"][0]["code"] == "COMPARE_QUANTITY_REQUIRED"


def test_more_than_250_items_go_in_chunks_under_the_input_cap(sandbox: Sandbox) -> None:
    """The sandbox refuses any input array over 250 (MAX_INPUT_SIZE_EXCEEDED); the client chunks."""
    made = sandbox.control.add_product(
        ProductSpec(title="Socks", variants=[VariantSpec(sku=f"SOCK-{i}", title=str(i)) for i in range(260)])
    )
    loc = sandbox.location_id()
    items = [v["inventory_item_id"] for v in made["variants"]]
    before = sandbox.client.stats.by_operation.get("InventorySetQuantities", 0)
    sandbox.client.set_inventory_quantities(
        [StockWrite(inventory_item_id=i, location_id=loc, quantity=3, expected=None) for i in items]
    )
    assert sandbox.client.stats.by_operation["InventorySetQuantities"] - before == 2
    sandbox.client.adjust_inventory_quantities(
        [StockDelta(inventory_item_id=i, location_id=loc, delta=1, expected=None) for i in items]
    )
    levels = sandbox.client.get_inventory_levels(items, loc)
    assert len(levels) == 260 and {lv.available for lv in levels.values()} == {4}


def test_inventory_writes_log_each_applied_write_under_its_key(sandbox: Sandbox) -> None:
    """The control API lists writes that moved a quantity, by `@idempotent` key (chunk i is `key:i`);
    a replay under the same key is Shopify's first answer, not a second write."""
    made = sandbox.seed()
    loc, tee = sandbox.location_id(), made["TEE-S"]["inventory_item_id"]
    write = [StockWrite(inventory_item_id=tee, location_id=loc, quantity=9, expected=50)]
    for _ in range(2):
        sandbox.client.set_inventory_quantities(
            write, reference_document_uri="gid://x/Push/1", idempotency_key="push-1"
        )
    unchanged = [StockWrite(inventory_item_id=tee, location_id=loc, quantity=9, expected=9)]
    sandbox.client.set_inventory_quantities(unchanged, idempotency_key="push-2")  # moves nothing
    assert [(w["key"], w["reference"], w["rows"]) for w in sandbox.control.inventory_writes()] == [
        ("push-1:0", "gid://x/Push/1", 1)
    ]


def test_draining_the_bucket_throttles_until_it_refills(sandbox: Sandbox) -> None:
    sandbox.seed()  # control API: never throttled
    status = sandbox.control.drain_bucket()
    assert status["currentlyAvailable"] == 0
    answer = sandbox.post(
        "{ products(first: 250) { nodes { id } } }"
    ).json()  # ~250 points: more than refills
    assert answer["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert sandbox.state.stats["throttled"] == 1


def test_location_levels_page_halve_on_max_cost_and_name_an_unknown_location(make_sandbox: Any) -> None:
    """Paged through `_paged`: a page Shopify calls too dear is halved and asked again."""
    sandbox = make_sandbox(ShopifySandboxConfig(max_query_cost=200))  # the client sizes pages for 1,000
    made = sandbox.seed()
    loc = sandbox.location_id()
    levels = list(sandbox.client.iter_location_levels(loc))
    assert {lv.inventory_item_id: lv.available for lv in levels if lv.available} == {
        made[sku]["inventory_item_id"]: 50 for sku in ("TEE-S", "TEE-M", "MUG")
    }
    assert all(lv.location_id == loc and lv.updated_at and lv.updated_at.utcoffset() == timedelta(0)
               for lv in levels)  # fmt: skip
    # 250 a page is refused (cost 753), 125 (378) too, then 62 (189) is asked and answered.
    assert sandbox.client.stats.by_operation["LocationInventoryLevels"] == 3
    since = max(lv.updated_at for lv in levels if lv.updated_at) + timedelta(seconds=1)
    assert list(sandbox.client.iter_location_levels(loc, updated_since=since)) == []
    with pytest.raises(ShopifyQueryError, match="location gid://shopify/Location/999999 not found"):
        list(sandbox.client.iter_location_levels("gid://shopify/Location/999999"))
