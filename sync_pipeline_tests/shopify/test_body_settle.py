"""Bodies taken within `SETTLE` of their version are recorded settled after the body step's wait,
and nothing is read by id: counted by the Shopify sandbox, the webhooks delivered for real.

At a peak the body step takes bodies seconds after their change; recorded then, each counted as
unsettled and was read again by id (`OrdersByIds`, the largest Shopify read of session 8's
rehearsal). This test waits for real (about 5 s, sleeping, no CPU): the point is the wall clock.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, record_bodies
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.flows.orders.observed import SETTLE, settled
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.receiver.app import ReceiverConfig
from sync_pipeline.receiver.app import create_app as create_receiver
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, points_by_operation
from sync_pipeline.settings import REPO_ROOT

from .conftest import Sandbox

RULES = load_business_rules(REPO_ROOT / "data" / "config")


def test_young_bodies_are_recorded_settled_after_the_wait_and_never_read_by_id(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    sandbox.seed()
    inbox = Inbox(tmp_path / "inbox")
    app = create_receiver(
        ReceiverConfig(
            inbox.root,
            ShopifySandboxConfig().webhook_secret,
            "test-callback-token-0123456789abcdef",
            ShopifySandboxConfig().shop_domain,
        )
    )
    with serve_in_thread(app) as receiver:
        for topic in ("ORDERS_CREATE", "ORDERS_PAID"):
            sandbox.control.register_webhook(topic, f"{receiver}/webhooks/shopify")
        placed_from = datetime.now(UTC) - timedelta(seconds=2)
        ids = [
            sandbox.control.place_order(OrderSpec(lines=[LineSpec(sku=sku, quantity=1)]))["id"]
            for sku in ("TEE-S", "MUG", "TEE-M")
        ]
        deadline = time.monotonic() + 30
        while len(inbox.since("shopify")) < 2 * len(ids) and time.monotonic() < deadline:
            time.sleep(0.05)  # `orders/create` and `orders/paid` an order: one version, two topics
        ledger, source = Ledger(tmp_path / "ledger.duckdb"), ShopifyOrdersSource(sandbox.client)
        report = record_bodies(inbox, ledger, RULES, "test", datetime.now(UTC))
        assert (report.recorded, report.waited_for, report.recorded_unsettled) == (3, 3, 0)
        assert 0 < report.waited_seconds <= SETTLE.total_seconds()
        with ledger.transaction() as con:
            rows = ledger_orders.get_many(con, ids)
        assert all(settled(r.shopify_updated_at, r.snapshot_read_at) for r in rows.values())
        before = points_by_operation(sandbox.control.state()["stats"])
        # The pooled step after it, as the ingest asset runs them: the poll, then reads by id.
        lookback = datetime.now(UTC) - placed_from
        ingest(source, ledger, RULES, "test", datetime.now(UTC), initial_lookback=lookback)
        until = ledger.get_cursor(BODY_CURSOR)
        assert ingest_notified(inbox, source, ledger, RULES, "test", datetime.now(UTC), until=until).read == 0
        spent = points_by_operation(sandbox.control.state()["stats"])
    assert spent.get("OrdersByIds", 0) == before.get("OrdersByIds", 0) == 0
    assert spent.get("OrderChangesSince", 0) > before.get("OrderChangesSince", 0)  # the poll did list them
