"""Session 11: a Shopify variant whose inventory is not tracked got no stock push and nobody heard of
it. Both sandboxes over HTTP, a real ledger."""

from __future__ import annotations

from pathlib import Path

from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.stock.states import UNTRACKED
from sync_pipeline.sandbox.shopify.control import ProductSpec, VariantSpec
from sync_pipeline_tests.stock.world import SITE, WHOLESALE, World, stock_world

BAG = "BAG-RED-OS"


def _untracked_bag(w: World) -> None:
    """The warehouse stocks a bag; in Shopify its variant was made without "Track quantity"."""
    w.pvx.seed_items([(BAG, "5012345678901", "Red bag")])
    w.pvx.set_stock([(BAG, SITE, 30), (BAG, WHOLESALE, 5)])
    w.shop.add_product(
        ProductSpec(title="Red bag", variants=[VariantSpec(sku=BAG, price="15", tracked=False)])
    )
    catalogue.refresh(ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client), w.ledger, w.rules)


def test_an_untracked_variant_of_a_stocked_item_is_counted_and_opens_an_owned_exception(
    tmp_path: Path,
) -> None:
    with stock_world(tmp_path) as w:
        _untracked_bag(w)
        _, done = w.full()
        assert done.mode == "full", done.summary
        # The bag and the world's gift card are untracked; only the bag is a Peoplevox item.
        assert done.summary["untracked_variants"] == 2, done.summary
        assert done.summary["untracked_variants_stocked_in_peoplevox"] == 1, done.summary
        (problem,) = w.ledger.list_open_exceptions(UNTRACKED)
        assert problem.subject == f"sku:{BAG}" and problem.owner == "warehouse_ops"
        assert BAG in problem.message and "Track quantity" in problem.message
        # Still nothing pushed for it (Shopify would refuse it), and the rest of the catalogue was.
        assert w.available().get(BAG, 0) == 0 and w.available()["TEE-BLK-M"] > 0
        # A second full run touches the same exception: one per SKU, not one per run.
        w.pvx.set_stock([("TEE-BLK-M", SITE, 39)])
        w.full()
        assert len(w.ledger.list_open_exceptions(UNTRACKED)) == 1


def test_an_untracked_gift_card_is_counted_but_opens_nothing(tmp_path: Path) -> None:
    """Gift cards are untracked on purpose and no Peoplevox item: counted, no exception to chase."""
    with stock_world(tmp_path) as w:
        _, done = w.full()
        assert done.summary["untracked_variants"] == 1, done.summary
        assert done.summary["untracked_variants_stocked_in_peoplevox"] == 0
        assert w.ledger.list_open_exceptions(UNTRACKED) == []


# The merchant's action in the admin: the product itself never changes whether an item is tracked.
INVENTORY_ITEM_UPDATE = """
mutation InventoryItemUpdate($id: ID!, $input: InventoryItemInput!) {
  inventoryItemUpdate(id: $id, input: $input) { inventoryItem { id tracked } userErrors { field message } }
}
"""


def test_the_exception_closes_and_stock_is_published_once_the_variant_is_tracked(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        _untracked_bag(w)
        w.full()
        assert len(w.ledger.list_open_exceptions(UNTRACKED)) == 1
        (bag,) = [v for v in w.client.iter_product_variants() if v.sku == BAG]
        answer = w.client.execute(
            "InventoryItemUpdate",
            INVENTORY_ITEM_UPDATE,
            {"id": bag.inventory_item.id, "input": {"tracked": True}},
        )["inventoryItemUpdate"]
        assert answer["userErrors"] == [] and answer["inventoryItem"]["tracked"] is True
        catalogue.refresh(ShopifyOrdersSource(w.client), PeoplevoxWarehouse(w.pvx_client), w.ledger, w.rules)
        _, done = w.full()
        assert (
            done.summary["untracked_variants"] == 1
            and done.summary["untracked_variants_stocked_in_peoplevox"] == 0
        )
        assert w.ledger.list_open_exceptions(UNTRACKED) == []
        assert w.available().get(BAG, 0) > 0, done.summary
