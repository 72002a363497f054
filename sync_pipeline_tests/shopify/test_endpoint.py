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
                     headers={"X-Shopify-Access-Token": "shpat_sandbox"}).json()  # fmt: skip
    assert old["errors"][0]["extensions"]["code"] == "undefinedField"
    new = sandbox.post(query).json()
    assert "errors" not in new


def test_unknown_search_field_is_ignored_with_a_warning(sandbox: Sandbox) -> None:
    sandbox.seed()
    from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    body = sandbox.post('{ orders(first: 5, query: "finacial_status:paid") { nodes { id } } }').json()
    assert len(body["data"]["orders"]["nodes"]) == 1
    assert body["extensions"]["search"][0]["field"] == "finacial_status"


def test_page_over_250_is_refused(sandbox: Sandbox) -> None:
    body = sandbox.post("{ locations(first: 251) { nodes { id } } }").json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
