"""Auth, document validation and error shapes of the Admin GraphQL endpoint, over HTTP."""

from __future__ import annotations

import httpx

from .conftest import Sandbox


def test_missing_or_wrong_token_is_401(sandbox: Sandbox) -> None:
    assert sandbox.post("{ shop { name } }", token=None).status_code == 401
    wrong = sandbox.post("{ shop { name } }", token="shpat_wrong")
    assert wrong.status_code == 401
    assert "Invalid API key or access token" in wrong.json()["errors"]


def test_valid_query_answers_data_and_cost(sandbox: Sandbox) -> None:
    body = sandbox.post("{ shop { name myshopifyDomain currencyCode } }").json()
    assert body["data"]["shop"]["myshopifyDomain"] == "sandbox-store.myshopify.com"
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1 and cost["actualQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert cost["throttleStatus"]["restoreRate"] == 100.0


def test_unknown_field_is_rejected_like_shopify(sandbox: Sandbox) -> None:
    response = sandbox.post("{ orders(first: 1) { nodes { id fulfillableQuantity } } }")
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "undefinedField"
    assert error["locations"] == [{"line": 1, "column": 33}]


def test_missing_required_argument_and_bad_variable(sandbox: Sandbox) -> None:
    body = sandbox.post("{ order { id } }").json()
    assert body["errors"][0]["extensions"]["code"] == "missingRequiredArguments"
    bad = sandbox.post("query($id: ID!) { order(id: $id) { id } }", {"id": None}).json()
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert bad.get("data") is None


def test_syntax_error_and_missing_query(sandbox: Sandbox) -> None:
    body = sandbox.post("{ shop { name }").json()
    assert body["errors"][0]["extensions"]["code"] == "PARSE_ERROR"
    assert body["errors"][0]["locations"]
    raw = httpx.post(
        sandbox.graphql_url, json={"variables": {}}, headers={"X-Shopify-Access-Token": "shpat_sandbox"}
    )
    assert raw.status_code == 400


def test_unsupported_version_falls_forward_to_oldest(sandbox: Sandbox) -> None:
    response = httpx.post(
        f"{sandbox.url}/admin/api/2023-01/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": "shpat_sandbox"},
    )
    assert response.headers["x-shopify-api-version"] == "2026-07"
    assert response.json()["data"]["shop"]["name"]


def test_jobresult_exists_only_in_2026_10(sandbox: Sandbox) -> None:
    query = 'mutation { orderCancel(orderId: "gid://shopify/Order/1", reason: OTHER, restock: true) { jobResult { done } } }'
    old = httpx.post(f"{sandbox.url}/admin/api/2026-07/graphql.json", json={"query": query},
                     headers={"X-Shopify-Access-Token": "shpat_sandbox"}, timeout=60).json()  # fmt: skip
    assert old["errors"][0]["extensions"]["code"] == "undefinedField"
    new = sandbox.post(query).json()
    assert "errors" not in new


def test_unknown_search_field_is_ignored_with_a_warning(sandbox: Sandbox) -> None:
    sandbox.seed()
    from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    body = sandbox.post('{ orders(first: 5, query: "finacial_status:paid") { nodes { id } } }').json()
    assert len(body["data"]["orders"]["nodes"]) == 1
    assert body["extensions"]["search"] == [
        {
            "path": ["orders"],
            "query": "finacial_status:paid",
            "parsed": {"field": "finacial_status", "match_all": "paid"},
            "warnings": [
                {
                    "field": "finacial_status",
                    "message": "Invalid search field for this query.",
                    "code": "invalid_field",
                }
            ],
        }
    ]


def test_search_dates_must_be_quoted(sandbox: Sandbox) -> None:
    sandbox.seed()
    from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    future = "2999-01-01T00:00:00Z"
    quoted = sandbox.post(
        f"""{{ orders(first: 5, query: "updated_at:>='{future}' -tag:x") {{ nodes {{ id }} }} }}"""
    )
    assert quoted.json()["data"]["orders"]["nodes"] == [] and "search" not in quoted.json()["extensions"]
    assert quoted.json()["extensions"]["cost"]
    bare = sandbox.post(f'{{ orders(first: 5, query: "updated_at:>={future}") {{ nodes {{ id }} }} }}').json()
    assert len(bare["data"]["orders"]["nodes"]) == 1  # the unquoted date was ignored: wider
    [search] = bare["extensions"]["search"]
    assert search["parsed"] == {"field": "updated_at", "range_gte": future}
    assert search["warnings"][0]["code"] == "invalid_value" and search["warnings"][0]["field"] == "updated_at"


def test_input_arrays_over_250_are_refused_for_every_argument(sandbox: Sandbox) -> None:
    ids = [f"gid://shopify/InventoryItem/{i}" for i in range(251)]
    body = sandbox.post("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids}).json()
    [error] = body["errors"]
    assert error["message"] == "The input array size of 251 is greater than the maximum allowed of 250"
    assert error["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED" and "data" not in body
    names = ", ".join(['"available"'] * 251)
    nested = sandbox.post(
        '{ inventoryItem(id: "gid://shopify/InventoryItem/1") { inventoryLevel(locationId: '
        f'"gid://shopify/Location/1") {{ quantities(names: [{names}]) {{ name }} }} }} }}'
    ).json()
    assert nested["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert nested["errors"][0]["path"] == ["quantities", "names"]
    lines = [{"id": f"gid://shopify/FulfillmentOrderLineItem/{i}", "quantity": 1} for i in range(300)]
    fulfilment = {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1",
                                                   "fulfillmentOrderLineItems": lines}]}  # fmt: skip
    create = sandbox.post(
        "mutation($f: FulfillmentInput!) { fulfillmentCreate(fulfillment: $f) { userErrors { message } } }",
        {"f": fulfilment},
    ).json()
    assert create["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert create["errors"][0]["path"] == [
        "fulfillmentCreate", "fulfillment", "lineItemsByFulfillmentOrder", 0, "fulfillmentOrderLineItems",
    ]  # fmt: skip
    changes = [{"inventoryItemId": f"gid://shopify/InventoryItem/{i}", "locationId": "gid://shopify/Location/1",
                "delta": 1, "changeFromQuantity": None} for i in range(251)]  # fmt: skip
    adjust = sandbox.post(
        "mutation($i: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities(input: $i)"
        ' @idempotent(key: "k") { userErrors { message } } }',
        {"i": {"name": "available", "reason": "correction", "changes": changes}},
    ).json()
    assert adjust["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert (
        sandbox.post("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids[:250]})
        .json()
        .get("errors")
        is None
    )


def test_page_over_250_is_refused(sandbox: Sandbox) -> None:
    body = sandbox.post("{ locations(first: 251) { nodes { id } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
