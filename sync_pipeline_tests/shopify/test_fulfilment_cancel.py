"""`fulfillmentCancel` in the sandbox, over HTTP: what a merchant's cancel in the admin changes."""

from __future__ import annotations

from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

from .conftest import Sandbox

# The merchant's action in the admin: the product itself never cancels a fulfilment.
FULFILLMENT_CANCEL = """
mutation FulfillmentCancel($id: ID!) {
  fulfillmentCancel(id: $id) { fulfillment { id status } userErrors { field message } }
}
"""


def cancel(sandbox: Sandbox, fulfillment_id: str) -> dict:  # type: ignore[type-arg]
    data = sandbox.client.execute(
        "FulfillmentCancel", FULFILLMENT_CANCEL, {"id": fulfillment_id}, safe_to_retry=False
    )
    return dict(data["fulfillmentCancel"])


def test_cancelling_a_whole_fulfilment_owes_its_units_again_in_a_new_fulfilment_order(
    sandbox: Sandbox,
) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=2)]))
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    made = sandbox.client.create_fulfillment({fo.id: None})
    before = sandbox.client.get_order(placed["id"])
    assert before is not None and before.display_fulfillment_status == "FULFILLED"
    answer = cancel(sandbox, made.id)
    assert answer["userErrors"] == [] and answer["fulfillment"]["status"] == "CANCELLED"
    order = sandbox.client.get_order(placed["id"])
    assert order is not None and order.display_fulfillment_status == "UNFULFILLED"
    assert order.updated_at > before.updated_at
    fos = sandbox.client.get_fulfillment_orders(placed["id"])
    assert [(f.status, [x.remaining_quantity for x in f.line_items]) for f in fos] == [
        ("CLOSED", [0]),
        ("OPEN", [2]),
    ]
    (read,) = sandbox.client.get_order_fulfillments(placed["id"])
    assert read.status == "CANCELLED"
    stock = {s["sku"]: s for s in sandbox.control.state()["stock"]}
    assert stock["TEE-S"]["committed"] == 2  # owed to the order again
    # The units can be fulfilled again; a second cancel of the same fulfilment is refused.
    sandbox.client.create_fulfillment({fos[1].id: None})
    again = cancel(sandbox, made.id)
    assert again["fulfillment"] is None and "already been cancelled" in again["userErrors"][0]["message"]


def test_cancelling_part_of_a_partly_fulfilled_order_raises_the_remaining_quantity(sandbox: Sandbox) -> None:
    sandbox.seed()
    placed = sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="TEE-S", quantity=3)]))
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    made = sandbox.client.create_fulfillment({fo.id: {fo.line_items[0].id: 1}})
    assert cancel(sandbox, made.id)["userErrors"] == []
    (fo,) = sandbox.client.get_fulfillment_orders(placed["id"])
    assert fo.status == "OPEN" and [x.remaining_quantity for x in fo.line_items] == [3]


def test_cancelling_an_unknown_fulfilment_is_a_user_error(sandbox: Sandbox) -> None:
    sandbox.seed()
    answer = cancel(sandbox, "gid://shopify/Fulfillment/999999")
    assert (
        answer["fulfillment"] is None and answer["userErrors"][0]["message"] == "Fulfillment does not exist."
    )
