"""Webhook signing and delivery: headers, HMAC, retries, drops and duplicates."""

from __future__ import annotations

import json
import time

from sync_pipeline.lib.shopify import sign_webhook, verify_webhook
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import (
    CancelSpec,
    EditSpec,
    LineSpec,
    OrderSpec,
    QuantityChange,
    ShippingLineSpec,
)

from .conftest import Receiver, Sandbox

SECRET = "sandbox-webhook-secret"


def test_verify_good_tampered_and_missing() -> None:
    body = b'{"id":1,"name":"#1001"}'
    good = sign_webhook(body, SECRET)
    assert verify_webhook(body, good, SECRET)
    assert not verify_webhook(body + b" ", good, SECRET)
    assert not verify_webhook(body, good, "other-secret")
    assert not verify_webhook(body, None, SECRET)
    assert not verify_webhook(body, "", SECRET)
    assert not verify_webhook(body, good[:-2] + "AA", SECRET)


def test_an_empty_secret_verifies_nothing() -> None:
    """A forger who guesses the secret is unset signs with the empty key: never accepted."""
    body = b'{"id":1,"name":"#1001"}'
    forged = sign_webhook(body, "")
    assert not verify_webhook(body, forged, "")
    assert not verify_webhook(body, forged, "   ".strip())


def test_order_lifecycle_webhooks_are_signed_and_complete(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.seed()
    for topic in ("ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_EDITED", "ORDERS_CANCELLED"):
        sandbox.client.create_webhook_subscription(topic, receiver.url)
    assert len(sandbox.client.list_webhook_subscriptions()) == 4
    placed = sandbox.control.place_order(
        OrderSpec(lines=[LineSpec(sku="MUG", quantity=2)], financial_status="PENDING")
    )
    sandbox.control.mark_paid(placed["id"])
    line = placed["line_items"][0]["id"]
    sandbox.control.edit_order(
        placed["id"], EditSpec(set_quantities=[QuantityChange(line_item_id=line, quantity=1)])
    )
    sandbox.control.cancel_order(placed["id"], CancelSpec(reason="FRAUD", restock=True))
    receiver.wait_for(lambda reqs: len(reqs) >= 6)
    time.sleep(0.1)  # nothing more should arrive
    expected = ["orders/cancelled", "orders/edited", "orders/paid"] + ["orders/updated"] * 3
    assert sorted(receiver.topics()) == expected
    for headers, body in receiver.requests:
        assert verify_webhook(body, headers["x-shopify-hmac-sha256"], SECRET)
        assert headers["x-shopify-api-version"] == "2026-10"
        assert headers["x-shopify-shop-domain"] == "sandbox-store.myshopify.com"
        assert headers["x-shopify-webhook-id"] and headers["x-shopify-triggered-at"]
        payload = json.loads(body)
        if headers["x-shopify-topic"] == "orders/edited":  # the edit, not the order
            assert payload["order_edit"]["order_id"] == int(placed["legacy_id"])
            continue
        assert payload["admin_graphql_api_id"] == placed["id"] and payload["name"] == "#1001"
        assert {"updated_at", "financial_status", "cancelled_at", "id"} <= payload.keys()
        assert "tags" not in (payload["customer"] or {})  # no webhook carries them since 2025-01
        assert all("sales_line_item_group_id" in line for line in payload["line_items"])
    cancelled = [json.loads(b) for h, b in receiver.requests if h["x-shopify-topic"] == "orders/cancelled"]
    assert cancelled[0]["cancelled_at"] and cancelled[0]["cancel_reason"] == "fraud"
    ids = [h["x-shopify-webhook-id"] for h, _ in receiver.requests]
    assert len(set(ids)) == len(ids)


def test_failed_delivery_is_retried(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.seed()
    receiver.fail_first = 2
    sandbox.control.register_webhook("orders/paid", receiver.url)
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    receiver.wait_for(lambda reqs: len(reqs) == 1)
    # The sandbox records the delivery once it has read the 200, a moment after the receiver
    # stored the request: wait for that (a loaded machine stretches the moment), then check it.
    deadline = time.monotonic() + 10
    while (delivery := sandbox.control.state()["webhook_deliveries"][0])["status"] in ("pending", "retrying"):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert len(sandbox.control.state()["webhook_deliveries"]) == 1
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    # How long the first attempt waited for a sender (the rehearsal shows it as the stand-in's time).
    assert isinstance(delivery["waited_s"], float) and 0 <= delivery["waited_s"] < 5


def test_faults_drop_and_duplicate_deliveries(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.seed()
    sandbox.control.register_webhook("ORDERS_CREATE", receiver.url)
    sandbox.control.set_faults(FaultSettings(webhook_duplicate_rate=1.0, webhook_duplicate_fresh_id_rate=0.0))
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    receiver.wait_for(lambda reqs: len(reqs) == 2)
    (h1, b1), (h2, b2) = receiver.requests
    assert h1["x-shopify-webhook-id"] == h2["x-shopify-webhook-id"] and b1 == b2  # a redelivery
    sandbox.control.set_faults(FaultSettings(webhook_duplicate_rate=1.0, webhook_duplicate_fresh_id_rate=1.0))
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    receiver.wait_for(lambda reqs: len(reqs) == 4)
    (h3, b3), (h4, b4) = receiver.requests[2:]
    assert h3["x-shopify-webhook-id"] != h4["x-shopify-webhook-id"] and b3 == b4  # a new delivery
    assert h3["x-shopify-event-id"] == h4["x-shopify-event-id"] != h1["x-shopify-event-id"]
    sandbox.control.set_faults(FaultSettings(webhook_drop_rate=1.0))
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
    time.sleep(0.3)
    assert len(receiver.requests) == 4
    assert sandbox.control.state()["webhook_deliveries"][-1]["status"] == "dropped"


def test_order_payload_carries_shipping_lines_in_rest_shape(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.seed()
    sandbox.control.register_webhook("orders/create", receiver.url)
    express = ShippingLineSpec(title="Express 24h", code="EXPRESS", price="4.50")
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="MUG")], shipping_line=express))
    sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku="GIFT-25")], shipping_line=None))
    receiver.wait_for(lambda reqs: len(reqs) == 2)
    by_name = {p["name"]: p for p in (json.loads(b) for _, b in receiver.requests)}
    (line,) = by_name["#1001"]["shipping_lines"]
    assert (line["code"], line["title"], line["source"], line["price"]) == (
        "EXPRESS",
        "Express 24h",
        "shopify",
        "4.50",
    )
    assert line["price_set"]["shop_money"] == {"amount": "4.50", "currency_code": "GBP"}
    assert by_name["#1001"]["total_price"] == "12.50"
    assert by_name["#1002"]["shipping_lines"] == []
