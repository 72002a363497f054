"""Calculated query cost against worked examples, MAX_COST_EXCEEDED and THROTTLED, over HTTP."""

from __future__ import annotations

from collections.abc import Callable

from sync_pipeline.lib.shopify import client as client_module
from sync_pipeline.lib.shopify import documents, finance_documents
from sync_pipeline.lib.shopify.client import ShopifyClient
from sync_pipeline.lib.shopify.finance import LightMoneyShape, MoneyShape
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

from .conftest import Sandbox


def requested(sandbox: Sandbox, query: str, variables: dict | None = None) -> dict:
    return sandbox.post(query, variables).json()["extensions"]["cost"]


def test_worked_examples_of_requested_cost(sandbox: Sandbox) -> None:
    # scalars 0, an object 1
    assert requested(sandbox, "{ shop { id name } }")["requestedQueryCost"] == 1
    # connection: 2 + first x (node 1 + its objects); pageInfo is covered by the 2
    assert (
        requested(sandbox, "{ locations(first: 10) { pageInfo { hasNextPage } nodes { id } } }")[
            "requestedQueryCost"
        ]
        == 2 + 10 * 1
    )
    # nested: 2 + 10 x (1 + (2 + 5 x (1 + variant 1)))  = 132
    q = "{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { sku variant { id } } } } } }"
    assert requested(sandbox, q)["requestedQueryCost"] == 132
    # edges { node } costs the same as nodes
    q_edges = "{ orders(first: 10) { edges { cursor node { id lineItems(first: 5) { edges { node { sku variant { id } } } } } } } }"
    assert requested(sandbox, q_edges)["requestedQueryCost"] == 132
    # first given by a variable
    q_var = "query($n: Int!) { productVariants(first: $n) { nodes { sku inventoryItem { id } } } }"
    assert requested(sandbox, q_var, {"n": 50})["requestedQueryCost"] == 2 + 50 * 2
    # nodes(ids:) is sized by the number of ids; quantities(names:) by the number of names
    q_nodes = (
        'query($ids: [ID!]!) { nodes(ids: $ids) { ... on InventoryItem { id inventoryLevel(locationId: "x") '
        '{ quantities(names: ["available", "on_hand"]) { quantity } } } } }'
    )
    ids = [f"gid://shopify/InventoryItem/{i}" for i in range(7)]
    assert requested(sandbox, q_nodes, {"ids": ids})["requestedQueryCost"] == 7 * (1 + 1 + 2)
    # a plain list with `first` is charged `first` times, and multiplies what it holds (the
    # stricter reading): order 1 + 4 x (refund 1 + its line connection 2 + 3 x (node 1 + lineItem 1))
    q_list = '{ order(id: "x") { refunds(first: 4) { id refundLineItems(first: 3) { nodes { lineItem { id } } } } } }'
    assert requested(sandbox, q_list)["requestedQueryCost"] == 1 + 4 * (1 + 2 + 3 * 2)


def test_a_list_under_a_list_over_1000_is_max_cost_exceeded(sandbox: Sandbox) -> None:
    # charged once per list, this would cost 1 + 1 + 2 + 250 = 254; by `first` it is 1 + 50 x 252
    q = '{ order(id: "x") { refunds(first: 50) { refundLineItems(first: 250) { nodes { quantity } } } } }'
    body = sandbox.post(q).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED" and "data" not in body
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 50 * (1 + 2 + 250)


def test_the_money_read_estimate_is_the_requested_cost(sandbox: Sandbox) -> None:
    shape = MoneyShape()
    order = "gid://shopify/Order/1"
    cost = requested(sandbox, finance_documents.ORDERS_MONEY_BY_IDS, {"ids": [order], **shape.variables()})
    assert cost["requestedQueryCost"] == shape.node_cost()  # nodes(ids:) charges each id as one node
    page = {"first": 2, "query": "", **shape.variables()}
    assert (
        requested(sandbox, finance_documents.ORDERS_MONEY, page)["requestedQueryCost"]
        == 2 + 2 * shape.node_cost()
    )


def test_the_cheap_money_page_is_charged_for_its_refunds_probe_alone(sandbox: Sandbox) -> None:
    """`refunds(first: 1) { id }` is a plain list of one object without children: 1 point where the
    full refunds cost 261; the page's estimate is the sandbox's requested cost."""
    light, full = LightMoneyShape(), MoneyShape()
    page = {"first": 8, "query": "", **light.variables()}
    cost = requested(sandbox, finance_documents.ORDERS_MONEY_LIGHT, page)["requestedQueryCost"]
    assert cost == 2 + 8 * light.node_cost() <= 1000
    assert (light.node_cost(), full.node_cost()) == (117, 377)


def test_mutation_costs_ten(sandbox: Sandbox) -> None:
    q = 'mutation { webhookSubscriptionCreate(topic: ORDERS_PAID, webhookSubscription: {uri: "https://x.test/h"}) { userErrors { message } } }'
    cost = requested(sandbox, q)
    assert cost["requestedQueryCost"] == 10 and cost["actualQueryCost"] == 10


def test_actual_cost_counts_what_was_returned_and_is_refunded(sandbox: Sandbox) -> None:
    sandbox.seed()
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG"), LineSpec(sku="TEE-S")]))
    q = "{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { sku variant { id } } } } } }"
    cost = requested(sandbox, q)
    # one order (1) with its line items connection (2 + two items x (1 + variant 1)) = 1 + 2 + 4, plus 2
    assert cost["actualQueryCost"] == 2 + 1 + 2 + 2 * 2
    assert cost["throttleStatus"]["currentlyAvailable"] >= 2000 - 9 - 1


def test_over_1000_is_max_cost_exceeded(sandbox: Sandbox) -> None:
    body = sandbox.post("{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }").json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert body["extensions"]["cost"]["actualQueryCost"] is None


def test_bucket_empty_gives_throttled_with_http_200(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(ShopifySandboxConfig(bucket_size=15, restore_rate=1))
    # A mutation's actual cost is its requested cost (10), so nothing is refunded.
    q = 'mutation { webhookSubscriptionCreate(topic: ORDERS_PAID, webhookSubscription: {uri: "https://x.test/a"}) { userErrors { message } } }'
    assert "errors" not in sb.post(q).json()
    response = sb.post(q.replace("/a", "/b"))
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 10
    assert body["extensions"]["cost"]["actualQueryCost"] is None


def test_client_documents_stay_under_the_ceiling(sandbox: Sandbox) -> None:
    client: ShopifyClient = sandbox.client
    per_page = client.orders_page_size()
    variables = {
        "first": per_page,
        "query": "updated_at:>='2020-01-01'",
        "lineItems": client.line_items_per_order,
    }
    cost = requested(sandbox, documents.ORDERS_UPDATED_SINCE, variables)
    assert 700 < cost["requestedQueryCost"] <= 1000
    ids = [f"gid://shopify/Order/{i}" for i in range(per_page)]
    cost = requested(sandbox, documents.ORDERS_BY_IDS, {"ids": ids, "lineItems": client.line_items_per_order})
    assert cost["requestedQueryCost"] <= 1000


def test_the_delivery_check_costs_four_points_an_order(sandbox: Sandbox) -> None:
    """Release's version check of a body-recorded order also asks its address, shipping line and
    cart attributes (`ORDER_DELIVERY_VERSIONS`): the estimate the client paces on is the sandbox's
    requested cost, four times the plain version check, against 72 for a read in full (ten lines)."""
    ids = [f"gid://shopify/Order/{i}" for i in range(1, 51)]
    plain = requested(sandbox, documents.ORDER_VERSIONS, {"ids": ids})["requestedQueryCost"]
    delivery = requested(sandbox, documents.ORDER_DELIVERY_VERSIONS, {"ids": ids})["requestedQueryCost"]
    lines = sandbox.client.line_items_per_order  # the default
    full = requested(sandbox, documents.ORDERS_BY_IDS, {"ids": ids, "lineItems": lines})["requestedQueryCost"]
    assert (plain, delivery) == (50, 50 * client_module.ORDER_DELIVERY_NODE)
    assert client_module.ORDER_DELIVERY_NODE == 4 and full == 50 * 72  # 12 + 10 lines x 6 an order
