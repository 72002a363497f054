"""`sync-pipeline subscribe` against both sandboxes: subscriptions exist, are recorded, once,
and the callback token never reaches the ledger."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync_pipeline import cli
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import subscriptions as ledger_subscriptions
from sync_pipeline.lib.peoplevox.callbacks import SUBSCRIBED
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.receiver.app import ReceiverConfig
from sync_pipeline.receiver.app import create_app as create_receiver
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.peoplevox.events import CONFIRMED_PLACEHOLDERS
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import SANDBOX_SHOP_DOMAIN, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
)
from sync_pipeline.subscribe import SHOPIFY_TOPICS

TOKEN = "tok-3f9a1c77e2b54d0c-8e41b07a92d3c5f6"
PUBLIC = "http://receiver.example:8703"


@dataclass
class Env:
    shop: SandboxControl
    pvx: PeoplevoxControl
    ledger_path: Path
    shop_url: str


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    shop_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=1000))).start()
    settings = {
        "SHOPIFY_SHOP_URL": shop_server.url,
        # The sandbox answers on 127.0.0.1, so the shop its webhooks name is set apart, as a
        # deployment against it sets it (the receiver and `audit` need it).
        "SHOPIFY_SHOP_DOMAIN": SANDBOX_SHOP_DOMAIN,
        "SHOPIFY_ACCESS_TOKEN": "shpat_sandbox",
        "SHOPIFY_WEBHOOK_SECRET": "sandbox-webhook-secret",
        "PEOPLEVOX_BASE_URL": pvx_server.url,
        "PEOPLEVOX_CLIENT_ID": "sandbox",
        "PEOPLEVOX_USERNAME": "integration",
        "PEOPLEVOX_PASSWORD": "sandbox-password",
        "PEOPLEVOX_REQUESTS_PER_WINDOW": "1000",
        "SYNC_DATA_DIR": str(tmp_path),
        "SYNC_CALLBACK_TOKEN": TOKEN,
        "SYNC_RECEIVER_PUBLIC_URL": PUBLIC,
    }
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    shop, pvx = SandboxControl(shop_server.url), PeoplevoxControl(pvx_server.url)
    try:
        yield Env(shop, pvx, tmp_path / "ledger.duckdb", shop_server.url)
    finally:
        shop.close()
        pvx.close()
        shop_server.stop()
        pvx_server.stop()


def _ledger_rows(path: Path) -> list[ledger_subscriptions.SubscriptionRow]:
    with Ledger(path).transaction() as con:
        return ledger_subscriptions.list_all(con)


def test_subscribes_once_records_every_id_and_never_stores_the_token(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["subscribe"]) == 0

    webhooks = env.shop.state()["webhook_subscriptions"]
    assert sorted(w["topic"] for w in webhooks) == sorted(SHOPIFY_TOPICS)
    assert {w["uri"] for w in webhooks} == {f"{PUBLIC}/webhooks/shopify"}
    callbacks = env.pvx.state().subscriptions
    assert sorted(s.event_type for s in callbacks) == sorted(SUBSCRIBED)
    status = next(s for s in callbacks if s.event_type == "SalesOrderStatusChanges")
    assert status.url == (
        f"{PUBLIC}/callbacks/peoplevox/{TOKEN}/SalesOrderStatusChanges"
        "?number={SalesOrderNumber}&modified={LastModificationTime}&status={SalesOrderStatu.Name}"
    )
    # Only placeholders confirmed against the live service (API.md §9): no site, no carrier name.
    for callback in callbacks:
        used = set(re.findall(r"\{([^}]+)\}", callback.url))
        assert used <= CONFIRMED_PLACEHOLDERS[callback.event_type], callback.url

    rows = _ledger_rows(env.ledger_path)
    assert {(r.system, r.subscription_id) for r in rows} == {("shopify", w["id"]) for w in webhooks} | {
        ("peoplevox", str(s.subscription_id)) for s in callbacks
    }
    assert all(TOKEN not in r.target for r in rows)
    assert any("/callbacks/peoplevox/***/" in r.target for r in rows)

    assert cli.main(["subscribe"]) == 0  # the second run finds everything in place
    assert len(env.shop.state()["webhook_subscriptions"]) == len(SHOPIFY_TOPICS)
    assert len(env.pvx.state().subscriptions) == len(SUBSCRIBED)
    assert len(_ledger_rows(env.ledger_path)) == len(rows)

    assert TOKEN.encode() not in env.ledger_path.read_bytes()
    wal = env.ledger_path.with_name(env.ledger_path.name + ".wal")
    assert not wal.exists() or TOKEN.encode() not in wal.read_bytes()
    assert TOKEN not in capsys.readouterr().out


def test_webhooks_already_in_shopify_are_recorded_not_duplicated(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["subscribe"]) == 0
    # A fresh ledger beside the same store: Shopify's existing webhooks are adopted, not duplicated.
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path / "other"))
    assert cli.main(["subscribe"]) == 0
    assert len(env.shop.state()["webhook_subscriptions"]) == len(SHOPIFY_TOPICS)
    rows = _ledger_rows(tmp_path / "other" / "ledger.duckdb")
    assert sorted(r.topic for r in rows if r.system == "shopify") == sorted(SHOPIFY_TOPICS)


def test_refuses_without_a_callback_token(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNC_CALLBACK_TOKEN")
    assert cli.main(["subscribe"]) == 2
    assert env.shop.state()["webhook_subscriptions"] == []


NEW_TOKEN = "rotated-7d1c0a5e9b3f42e8a6c1d0b9f7e3a2c4"


def test_rotate_unsubscribes_the_old_token_and_records_both(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["subscribe"]) == 0
    old_ids = {s.subscription_id for s in env.pvx.state().subscriptions}

    monkeypatch.setenv("SYNC_CALLBACK_TOKEN", NEW_TOKEN)
    assert cli.main(["subscribe"]) == 0  # a plain run cannot see the change (redacted URLs)...
    assert {s.subscription_id for s in env.pvx.state().subscriptions} == old_ids
    assert cli.main(["subscribe", "--rotate"]) == 0  # ...--rotate re-registers

    callbacks = env.pvx.state().subscriptions
    assert sorted(s.event_type for s in callbacks) == sorted(SUBSCRIBED)
    assert not {s.subscription_id for s in callbacks} & old_ids
    assert all(f"/callbacks/peoplevox/{NEW_TOKEN}/" in s.url for s in callbacks)
    assert not any(TOKEN in s.url for s in callbacks)

    rows = [r for r in _ledger_rows(env.ledger_path) if r.system == "peoplevox"]
    retired = {r.subscription_id for r in rows if not r.active}
    active = {r.subscription_id for r in rows if r.active}
    assert retired == {str(i) for i in old_ids}
    assert active == {str(s.subscription_id) for s in callbacks}
    assert len(env.shop.state()["webhook_subscriptions"]) == len(SHOPIFY_TOPICS)  # untouched
    out = capsys.readouterr().out
    assert NEW_TOKEN not in out and TOKEN not in out
    assert NEW_TOKEN.encode() not in env.ledger_path.read_bytes()

    assert cli.main(["subscribe"]) == 0  # afterwards a plain run finds the new ones in place
    assert len(env.pvx.state().subscriptions) == len(SUBSCRIBED)


def test_a_short_callback_token_is_refused(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_CALLBACK_TOKEN", "x" * 31)
    assert cli.main(["subscribe"]) == 2
    assert env.pvx.state().subscriptions == []


def test_bulk_operations_finish_is_registered_and_reaches_the_inbox(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill's bulk read ends with Shopify's `bulk_operations/finish` webhook: `subscribe`
    registers it with the order topics, and the receiver stores it like any signed webhook."""
    receiver = BackgroundServer(
        create_receiver(
            ReceiverConfig(tmp_path / "inbox", "sandbox-webhook-secret", TOKEN, SANDBOX_SHOP_DOMAIN)
        )
    ).start()
    try:
        monkeypatch.setenv("SYNC_RECEIVER_PUBLIC_URL", receiver.url)
        assert cli.main(["subscribe"]) == 0
        webhooks = env.shop.state()["webhook_subscriptions"]
        assert "BULK_OPERATIONS_FINISH" in {w["topic"] for w in webhooks}

        env.shop.add_product(ProductSpec(title="Mug", variants=[VariantSpec(sku="MUG")]))
        env.shop.place_order(OrderSpec(lines=[LineSpec(sku="MUG")]))
        with ShopifyClient(env.shop_url, "shpat_sandbox") as client:
            client.bulk_threshold = 1
            start = datetime.now(UTC) - timedelta(hours=1)
            assert len(list(client.iter_orders_created_between(start, start + timedelta(hours=2)))) == 1
            assert client.last_read_mode == "bulk"

        inbox = Inbox(tmp_path / "inbox")
        deadline = time.monotonic() + 30
        finished: list[dict] = []
        while not finished and time.monotonic() < deadline:
            time.sleep(0.2)
            events = [item.load() for item in inbox.since("shopify")]
            finished = [e for e in events if e["topic"] == "bulk_operations/finish"]
        assert len(finished) == 1, [e["topic"] for e in events]
        assert finished[0]["payload"]["status"] == "completed"
    finally:
        receiver.stop()
