"""The receiver over real HTTP: signed webhooks in, forgeries out, every accepted event durable."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.shopify import sign_webhook
from sync_pipeline.receiver.app import ReceiverConfig, create_app
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.settings import ShopifySettings

SECRET = "test-webhook-secret"
SHOP = "brand.myshopify.com"
TOKEN = "callback-token-1234567890-abcdefghij"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, Inbox]]:
    config = ReceiverConfig(
        inbox_dir=tmp_path / "inbox", shopify_webhook_secret=SECRET, callback_token=TOKEN, shop_domain=SHOP
    )
    with serve_in_thread(create_app(config)) as url:
        yield url, Inbox(tmp_path / "inbox")


def _webhook(
    url: str,
    body: bytes,
    signature: str | None,
    webhook_id: str = "wh-1",
    event_id: str | None = None,
    topic: str = "orders/paid",
    shop: str | None = SHOP,
) -> httpx.Response:
    headers = {
        "Content-Type": "application/json",
        **({"X-Shopify-Shop-Domain": shop} if shop is not None else {}),
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Triggered-At": "2026-11-27T10:00:00Z",
        "X-Shopify-API-Version": "2026-10",
    }
    if signature is not None:
        headers["X-Shopify-Hmac-SHA256"] = signature
    if event_id is not None:
        headers["X-Shopify-Event-Id"] = event_id
    return httpx.post(f"{url}/webhooks/shopify", content=body, headers=headers, timeout=5)


def test_signed_webhook_is_stored_before_the_answer(receiver: tuple[str, Inbox]) -> None:
    url, inbox = receiver
    body = json.dumps(
        {"id": 1001, "admin_graphql_api_id": "gid://shopify/Order/1001", "name": "#1001"}
    ).encode()
    response = _webhook(url, body, sign_webhook(body, SECRET))
    assert response.status_code == 200
    [item] = inbox.since("shopify")
    event = item.load()
    assert event["topic"] == "orders/paid"
    assert event["payload"]["admin_graphql_api_id"] == "gid://shopify/Order/1001"


def test_duplicate_webhook_id_is_acknowledged_but_stored_once(receiver: tuple[str, Inbox]) -> None:
    url, inbox = receiver
    body = b'{"id": 1}'
    for _ in range(3):
        assert _webhook(url, body, sign_webhook(body, SECRET), webhook_id="same").status_code == 200
    assert _webhook(url, body, sign_webhook(body, SECRET), webhook_id="other").status_code == 200
    assert len(inbox.since("shopify")) == 2


def test_duplicate_event_with_a_fresh_webhook_id_is_stored_once(receiver: tuple[str, Inbox]) -> None:
    """Shopify may send one event twice as two deliveries: same event id, new webhook ids."""
    url, inbox = receiver
    body = b'{"id": 2}'
    signature = sign_webhook(body, SECRET)
    for webhook_id in ("wh-a", "wh-b", "wh-c"):
        assert _webhook(url, body, signature, webhook_id=webhook_id, event_id="ev-1").status_code == 200
    # Another event, and the same event id under another topic, are new.
    assert _webhook(url, body, signature, webhook_id="wh-d", event_id="ev-2").text == "ok"
    assert (
        _webhook(url, body, signature, webhook_id="wh-e", event_id="ev-1", topic="orders/updated").text
        == "ok"
    )
    events = [i.load() for i in inbox.since("shopify")]
    assert [(e["topic"], e["event_id"], e["webhook_id"]) for e in events] == [
        ("orders/paid", "ev-1", "wh-a"),
        ("orders/paid", "ev-2", "wh-d"),
        ("orders/updated", "ev-1", "wh-e"),
    ]


@pytest.mark.parametrize(
    ("signature", "reason"),
    [(None, "missing HMAC signature"), ("bm90LXRoZS1yaWdodC1zaWduYXR1cmU=", "bad HMAC signature")],
)
def test_forged_or_unsigned_webhook_is_refused_and_logged(
    receiver: tuple[str, Inbox], signature: str | None, reason: str
) -> None:
    url, inbox = receiver
    response = _webhook(url, b'{"id": 1}', signature)
    assert response.status_code == 401
    assert inbox.since("shopify") == []
    rejected = (inbox.root / "rejected.jsonl").read_text().splitlines()
    assert json.loads(rejected[-1])["reason"] == reason


@pytest.mark.parametrize(
    ("shop", "status", "reason"),
    [
        ("other-brand.myshopify.com", 403, "webhook for another shop"),
        (None, 400, "missing X-Shopify-Shop-Domain"),
        ("", 400, "missing X-Shopify-Shop-Domain"),
    ],
)
def test_a_webhook_signed_with_our_secret_for_another_shop_is_refused_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, shop: str | None, status: int, reason: str
) -> None:
    """One app's client secret signs the webhooks of every shop it is installed on: the HMAC alone
    does not say the order is this brand's."""
    config = ReceiverConfig(tmp_path / "inbox", SECRET, TOKEN, shop_domain=SHOP)
    body = json.dumps({"id": 7, "admin_graphql_api_id": "gid://shopify/Order/7"}).encode()
    started = time.time()
    with (
        caplog.at_level(logging.WARNING, logger="sync_pipeline.receiver"),
        serve_in_thread(create_app(config)) as url,
    ):
        for n in range(3):
            response = _webhook(url, body, sign_webhook(body, SECRET), webhook_id=f"wh-{n}", shop=shop)
            assert response.status_code == status
            assert reason in response.text
        # Our own shop's webhook still goes in, named in any case (a domain has no case).
        response = _webhook(url, body, sign_webhook(body, SECRET), webhook_id="ours", shop=SHOP.upper())
        assert response.status_code == 200
    inbox = Inbox(tmp_path / "inbox")
    [stored] = inbox.since("shopify")
    assert stored.load()["webhook_id"] == "ours"
    first = json.loads((inbox.root / "rejected.jsonl").read_text().splitlines()[0])
    assert (first["reason"], first["status"], first["topic"]) == (reason, status, "orders/paid")
    assert any(reason in r.getMessage() for r in caplog.records)
    # Counted like every refusal: the first written at once, the repeats when the receiver stopped.
    assert inbox.rejections.count_since(started) == 3


def test_the_receiver_refuses_an_empty_shop_domain(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shop domain must not be empty"):
        create_app(ReceiverConfig(tmp_path / "inbox", shopify_webhook_secret=SECRET, callback_token=TOKEN,
                                  shop_domain=" "))  # fmt: skip


def test_tampered_body_fails_verification(receiver: tuple[str, Inbox]) -> None:
    url, inbox = receiver
    signature = sign_webhook(b'{"id": 1, "total": "10.00"}', SECRET)
    assert _webhook(url, b'{"id": 1, "total": "0.01"}', signature).status_code == 401
    assert inbox.since("shopify") == []


def test_signed_but_malformed_body_is_rejected_with_a_reason(receiver: tuple[str, Inbox]) -> None:
    url, inbox = receiver
    body = b"{not json"
    response = _webhook(url, body, sign_webhook(body, SECRET))
    assert response.status_code == 400
    assert "not JSON" in response.text
    assert inbox.since("shopify") == []


def test_peoplevox_callback_needs_the_token(receiver: tuple[str, Inbox]) -> None:
    url, inbox = receiver
    good = f"{url}/callbacks/peoplevox/{TOKEN}/SalesOrderStatusChanges"
    params = {"number": "SHP-1001", "modified": "2026-10-01T10:00:00", "status": "Despatched"}
    assert httpx.get(good, params=params, timeout=5).status_code == 200
    assert httpx.get(good, params=params, timeout=5).text == "duplicate ignored"  # same change again
    assert (
        httpx.get(f"{url}/callbacks/peoplevox/wrong-token/SalesOrderStatusChanges", params=params).status_code
        == 401
    )
    assert httpx.get(f"{url}/callbacks/peoplevox/{TOKEN}/NoSuchEvent", params=params).status_code == 404
    post = httpx.post(
        f"{url}/callbacks/peoplevox/{TOKEN}/AvailabilityChanges", data={"item": "TEE", "available": "4"}
    )
    assert post.status_code == 200
    events = [i.load() for i in inbox.since("peoplevox")]
    assert events == [
        {"event": "SalesOrderStatusChanges", "params": params, "unfilled": []},
        {"event": "AvailabilityChanges", "params": {"item": "TEE", "available": "4"}, "unfilled": []},
    ]
    assert TOKEN not in (inbox.root / "rejected.jsonl").read_text()


def test_peoplevox_callbacks_are_stored_as_they_came(receiver: tuple[str, Inbox]) -> None:
    """Unfilled placeholders are kept and named; repeats are dropped only when they name one change."""
    url, inbox = receiver
    base = f"{url}/callbacks/peoplevox/{TOKEN}"
    # A tenant that does not know the status placeholder sends it back as written.
    literal = {"number": "SHP-7", "modified": "2026-10-01T10:00:00", "status": "{SalesOrderStatu.Name}"}
    for _ in range(2):
        assert httpx.get(f"{base}/SalesOrderStatusChanges", params=literal).status_code == 200
    # Availability 4 → 3 → 4 for one item: three changes, none of them a duplicate.
    for available in ("4", "3", "4"):
        answer = httpx.get(f"{base}/AvailabilityChanges", params={"item": "TEE", "available": available})
        assert answer.text == "ok"
    events = [i.load() for i in inbox.since("peoplevox")]
    status_events = [e for e in events if e["event"] == "SalesOrderStatusChanges"]
    assert [e["unfilled"] for e in status_events] == [["status"], ["status"]]
    assert status_events[0]["params"] == literal
    assert [e["params"]["available"] for e in events if e["event"] == "AvailabilityChanges"] == [
        "4",
        "3",
        "4",
    ]


def test_a_webhook_that_could_not_be_stored_is_stored_on_the_retry(
    receiver: tuple[str, Inbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk on the first delivery: 503, no duplicate marker, so Shopify's retry is kept."""
    url, inbox = receiver
    body = b'{"id": 7, "admin_graphql_api_id": "gid://shopify/Order/7"}'
    real_replace = os.replace

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    first = _webhook(url, body, sign_webhook(body, SECRET), webhook_id="wh-retry")
    monkeypatch.setattr(os, "replace", real_replace)
    assert first.status_code == 503
    retry = _webhook(url, body, sign_webhook(body, SECRET), webhook_id="wh-retry")
    assert (retry.status_code, retry.text) == (200, "ok")
    [item] = inbox.since("shopify")
    assert item.load()["payload"]["id"] == 7


def test_a_signed_body_with_a_lone_surrogate_escape_is_stored(receiver: tuple[str, Inbox]) -> None:
    """Valid JSON whose string has no UTF-8 form (\\udc80) must not make the event unwritable."""
    url, inbox = receiver
    body = b'{"id": 8, "note": "bad \\udc80 byte"}'
    response = _webhook(url, body, sign_webhook(body, SECRET), webhook_id="wh-surrogate")
    assert (response.status_code, response.text) == (200, "ok")
    [item] = inbox.since("shopify")
    assert item.load()["payload"]["note"] == "bad \udc80 byte"


def test_the_receiver_refuses_a_short_callback_token(tmp_path: Path) -> None:
    config = ReceiverConfig(
        tmp_path / "inbox", shopify_webhook_secret=SECRET, callback_token="x" * 31, shop_domain=SHOP
    )
    with pytest.raises(ValueError, match="at least 32 characters"):
        create_app(config)
    create_app(
        ReceiverConfig(
            tmp_path / "inbox", shopify_webhook_secret=SECRET, callback_token="x" * 32, shop_domain=SHOP
        )
    )


def test_the_receiver_refuses_an_empty_webhook_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        create_app(
            ReceiverConfig(
                tmp_path / "inbox", shopify_webhook_secret="", callback_token=TOKEN, shop_domain=SHOP
            )
        )


def test_the_shop_domain_comes_from_the_setting_or_a_myshopify_shop_url() -> None:
    def settings(url: str, domain: str | None) -> ShopifySettings:
        return ShopifySettings(shop_url=url, access_token="shpat_x", webhook_secret="s", shop_domain=domain)

    assert settings("https://Brand.myshopify.com", None).webhook_shop_domain() == "brand.myshopify.com"
    assert settings("http://127.0.0.1:8701", " Sandbox-Store.myshopify.com ").webhook_shop_domain() == (
        "sandbox-store.myshopify.com"
    )
    # A custom admin URL (a proxy, the sandbox) does not say which shop the webhooks come from.
    with pytest.raises(ValueError, match="SHOPIFY_SHOP_DOMAIN is not set"):
        settings("http://127.0.0.1:8701", None).webhook_shop_domain()
