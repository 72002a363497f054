"""The sandbox's bulk operations over real HTTP: lifecycle, JSONL file, limits, webhook, faults."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest

from sync_pipeline.sandbox.shopify.bulk_export import ROOT_PAGE
from sync_pipeline.sandbox.shopify.config import FaultSettings, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec

from .conftest import Receiver, Sandbox

RUN = """
mutation Run($query: String!, $group: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $group) {
    bulkOperation { id status }
    userErrors { code field message }
  }
}
"""
POLL = """
query Poll($id: ID!) {
  node(id: $id) {
    ... on BulkOperation {
      id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt query
    }
  }
}
"""
ORDERS_WITH_LINES = (
    "{ orders { edges { node { id name lineItems { edges { node { id sku quantity } } } } } } }"
)


def _place(sandbox: Sandbox, count: int) -> list[str]:
    """`count` orders of two lines (placed in-process: a few hundred through HTTP take seconds)."""
    sandbox.seed()
    return [
        f"gid://shopify/Order/{sandbox.state.store.place_order(spec).id}"
        for spec in (OrderSpec(lines=[LineSpec(sku="MUG", quantity=i + 1), LineSpec(sku="TEE-S")])
                     for i in range(count))
    ]  # fmt: skip


def _run(sandbox: Sandbox, query: str, group: bool = True) -> dict[str, Any]:
    body = sandbox.post(RUN, {"query": query, "group": group}).json()
    return dict(body["data"]["bulkOperationRunQuery"])


def _wait(sandbox: Sandbox, op_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        op = sandbox.post(POLL, {"id": op_id}).json()["data"]["node"]
        if op["status"] not in ("CREATED", "RUNNING", "CANCELING") or time.monotonic() > deadline:
            return dict(op)
        time.sleep(0.05)


def _lines(url: str) -> list[dict[str, Any]]:
    response = httpx.get(url, timeout=30)  # no access token: the URL is its own credential
    assert response.status_code == 200
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_bulk_query_runs_to_a_jsonl_file_with_children_after_their_parent(sandbox: Sandbox) -> None:
    placed = _place(sandbox, 3)
    started = _run(sandbox, ORDERS_WITH_LINES)
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] in ("CREATED", "RUNNING", "COMPLETED")
    op = _wait(sandbox, started["bulkOperation"]["id"])
    assert op["status"] == "COMPLETED" and op["errorCode"] is None and op["completedAt"]
    assert (op["objectCount"], op["rootObjectCount"]) == ("9", "3")  # 3 orders + 6 line items
    assert op["query"] == ORDERS_WITH_LINES and op["partialDataUrl"] is None
    lines = _lines(op["url"])
    assert int(op["fileSize"]) == len(httpx.get(op["url"]).content)
    roots = [x for x in lines if "__parentId" not in x]
    assert [r["id"] for r in roots] == placed
    assert all("lineItems" not in r for r in roots)  # the connection left its parent's line
    for index, line in enumerate(lines):  # grouped: every child directly after its parent (or sibling)
        if "__parentId" in line:
            owner = next(x for x in reversed(lines[:index]) if "__parentId" not in x)
            assert line["__parentId"] == owner["id"] and line["id"].startswith("gid://shopify/LineItem/")
    assert sorted(x["quantity"] for x in lines if x.get("sku") == "MUG") == [1, 2, 3]


def test_ungrouped_output_does_not_keep_children_beside_their_parent(sandbox: Sandbox) -> None:
    _place(sandbox, 2)
    op = _wait(sandbox, _run(sandbox, ORDERS_WITH_LINES, group=False)["bulkOperation"]["id"])
    kinds = ["child" if "__parentId" in x else "root" for x in _lines(op["url"])]
    assert kinds == ["root", "root", "child", "child", "child", "child"]


def test_the_export_spends_nothing_from_the_query_cost_bucket(sandbox: Sandbox) -> None:
    _place(sandbox, 20)
    sandbox.state.bucket.reset()
    op = _wait(sandbox, _run(sandbox, ORDERS_WITH_LINES)["bulkOperation"]["id"])
    assert op["objectCount"] == "60"
    stats = sandbox.state.stats
    # Only the calls themselves were charged: the mutation (10) and a few polls (1 each).
    assert stats["points_spent:Run"] == 10
    assert stats["points_spent"] == 10 + stats["points_spent:Poll"] <= 10 + stats["requests"]


def test_one_bulk_query_at_a_time_and_cancel(make_sandbox: Any) -> None:
    sandbox = make_sandbox(ShopifySandboxConfig(bulk_objects_per_second=2))
    _place(sandbox, 10)
    first = _run(sandbox, ORDERS_WITH_LINES)["bulkOperation"]["id"]
    second = _run(sandbox, "{ products { edges { node { id } } } }")
    assert second["bulkOperation"] is None
    assert second["userErrors"] == [{
        "code": "OPERATION_IN_PROGRESS", "field": ["query"],
        "message": f"A bulk query operation for this app and shop is already in progress: {first}.",
    }]  # fmt: skip
    cancel = sandbox.post(
        "mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { status } userErrors { message } } }",
        {"id": first},
    ).json()["data"]["bulkOperationCancel"]
    assert cancel == {"bulkOperation": {"status": "CANCELING"}, "userErrors": []}
    assert _wait(sandbox, first)["status"] == "CANCELED"
    current = sandbox.post("{ currentBulkOperation { id status } }").json()["data"]["currentBulkOperation"]
    assert current == {"id": first, "status": "CANCELED"}
    again = _run(sandbox, "{ products { edges { node { id } } } }")
    assert again["userErrors"] == [] and again["bulkOperation"]["id"] != first


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ shop { name } }", "Bulk queries must contain at least one connection."),
        ("{ node(id: \"gid://shopify/Order/1\") { id } }",
         "The top-level 'node' and 'nodes' fields can't be used in bulk queries."),
        ("{ orders { nodes { id a: lineItems { nodes { id } } b: lineItems { nodes { id } } "
         "c: lineItems { nodes { id } } d: lineItems { nodes { id } } e: lineItems { nodes { id } } } } }",
         "Bulk queries cannot contain more than 5 connections."),
        ("{ products { nodes { id variants { nodes { id productVariantComponents { nodes { quantity } } } } } } }",
         "Bulk queries cannot contain connections nested more than 2 levels deep."),
        ("{ orders { nodes { name lineItems { nodes { sku } } } } }",
         "The parent 'node' field for a nested connection must select the 'id' field without an alias and "
         "must be of 'ID' return type. Connection fields without 'id': lineItems."),
        ("{ orders { nodes { id fulfillments { fulfillmentLineItems { nodes { quantity } } } } } }",
         "Queries that contain a connection field within a list field are not currently supported."),
        ("{ orders { nodes { id colour } } }", "Cannot query field 'colour' on type 'Order'."),
    ],
)  # fmt: skip
def test_queries_shopify_refuses_get_user_errors_and_no_operation(
    sandbox: Sandbox, query: str, message: str
) -> None:
    result = _run(sandbox, query)
    assert result["bulkOperation"] is None
    assert [e["field"] for e in result["userErrors"]] == [["query"]]
    assert result["userErrors"][0]["message"] == message
    assert sandbox.state.bulk.ops == {}


def test_finish_webhook_is_signed_and_says_how_it_ended(sandbox: Sandbox, receiver: Receiver) -> None:
    _place(sandbox, 1)
    sandbox.control.register_webhook("bulk_operations/finish", receiver.url)
    op_id = _run(sandbox, ORDERS_WITH_LINES)["bulkOperation"]["id"]
    receiver.wait_for(lambda requests: len(requests) == 1, timeout=15)
    headers, body = receiver.requests[0]
    assert headers["x-shopify-topic"] == "bulk_operations/finish"
    digest = hmac.new(b"sandbox-webhook-secret", body, hashlib.sha256).digest()
    assert headers["x-shopify-hmac-sha256"] == base64.b64encode(digest).decode()
    payload = json.loads(body)
    assert payload["admin_graphql_api_id"] == op_id
    assert (payload["status"], payload["error_code"], payload["type"]) == ("completed", None, "query")


def test_a_failed_operation_has_an_error_code_and_partial_data(make_sandbox: Any) -> None:
    faults = FaultSettings(bulk_fail_next=1, bulk_fail_code="TIMEOUT", bulk_fail_after_roots=1)
    sandbox = make_sandbox(ShopifySandboxConfig(faults=faults))
    _place(sandbox, ROOT_PAGE + 10)  # two root pages: the failure comes after the first
    op = _wait(sandbox, _run(sandbox, "{ orders { nodes { id } } }")["bulkOperation"]["id"])
    assert (op["status"], op["errorCode"], op["url"]) == ("FAILED", "TIMEOUT", None)
    assert len(_lines(op["partialDataUrl"])) == int(op["objectCount"]) == ROOT_PAGE
    retry = _wait(sandbox, _run(sandbox, "{ orders { nodes { id } } }")["bulkOperation"]["id"])
    assert (retry["status"], retry["objectCount"]) == (
        "COMPLETED",
        str(ROOT_PAGE + 10),
    )  # the fault counted down


def test_result_urls_expire(sandbox: Sandbox) -> None:
    _place(sandbox, 1)
    op = _wait(sandbox, _run(sandbox, ORDERS_WITH_LINES)["bulkOperation"]["id"])
    assert httpx.get(op["url"]).status_code == 200
    assert httpx.get(op["url"].replace(".jsonl", "x.jsonl")).status_code == 403
    record = sandbox.state.bulk.ops[int(op["id"].rsplit("/", 1)[1])]
    assert record.expires_at is not None and record.expires_at - time.monotonic() > 6 * 24 * 3600
    record.expires_at = time.monotonic()  # seven days later
    assert _wait(sandbox, op["id"])["status"] == "EXPIRED"
    assert httpx.get(op["url"]).status_code == 403
