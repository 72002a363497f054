"""`inventoryItemUpdate` in the sandbox, over HTTP: "Track quantity" switched in the admin."""

from __future__ import annotations

from .conftest import Sandbox

# The merchant's action in the admin: the product itself never changes an inventory item.
INVENTORY_ITEM_UPDATE = """
mutation InventoryItemUpdate($id: ID!, $input: InventoryItemInput!) {
  inventoryItemUpdate(id: $id, input: $input) { inventoryItem { id tracked } userErrors { field message } }
}
"""


def _update(sandbox: Sandbox, item_id: str, **fields: object) -> dict:  # type: ignore[type-arg]
    data = sandbox.client.execute(
        "InventoryItemUpdate", INVENTORY_ITEM_UPDATE, {"id": item_id, "input": fields}
    )
    return dict(data["inventoryItemUpdate"])


def test_tracked_is_switched_and_fields_the_sandbox_does_not_model_are_refused(sandbox: Sandbox) -> None:
    sandbox.seed()
    (mug,) = [v for v in sandbox.client.iter_product_variants() if v.sku == "MUG"]
    item = mug.inventory_item.id
    assert _update(sandbox, item, tracked=False)["inventoryItem"] == {"id": item, "tracked": False}
    assert [v.inventory_item.tracked for v in sandbox.client.iter_product_variants() if v.sku == "MUG"] == [
        False
    ]
    refused = _update(sandbox, item, tracked=True, sku="MUG-2")
    assert refused["inventoryItem"] is None and refused["userErrors"][0]["field"] == ["input", "sku"]
    assert [v.inventory_item.tracked for v in sandbox.client.iter_product_variants() if v.sku == "MUG"] == [
        False
    ]
    unknown = _update(sandbox, "gid://shopify/InventoryItem/999999", tracked=True)
    assert unknown["userErrors"][0]["message"] == "Inventory item does not exist."
