"""Shopify points the orders ingest spends per new order: reads by id (before) vs webhook bodies (after).

A lean, deterministic companion of `orders_flow.py` (no Dagster, one process, well under a
minute): the Shopify sandbox and the real webhook receiver on 127.0.0.1, `--orders` paid orders
placed (the sandbox's webhooks land in the receiver's inbox, as in production), then two ingests
of the same orders into two fresh ledgers:

- before: what `main` did (the poll, then a read by id of every order a webhook named that the
  ledger did not hold at that version);
- after: the body step (`bodies.record_bodies`, no Shopify call), then the same read by id of what
  the bodies left, then the poll; plus the customer-tag read release makes when routing matches
  on customer tags (the example config does), which no body carries.

Prints Shopify points per order by operation for each, the ratio after / before, the orders read
in full, and what Plus's restore rate allows per minute; the last line is `JSON {…}`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, record_bodies
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.receiver.app import ReceiverConfig
from sync_pipeline.receiver.app import create_app as create_receiver
from sync_pipeline.rehearsal.stock_watch import UK
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import PLANS, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
    points_by_operation,
    points_spent_per,
)
from sync_pipeline.settings import REPO_ROOT

SKUS = ["TEE-BLK-M", "TEE-WHT-M", "CAP-NVY", "MUG-LOGO"]
PLUS_RESTORE = PLANS["plus"][1]  # points per second, as the sandbox's Plus bucket restores
SETTLE_SECONDS = 6.0  # a read or body is trusted once its version's second is 5 s past
TOPICS = ("ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_EDITED", "ORDERS_CANCELLED")  # as `subscribe` asks


def _points(shop: SandboxControl) -> dict[str, float]:
    return points_by_operation(shop.state()["stats"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="ingest-from-bodies-"))
    config = ShopifySandboxConfig(plan="plus")
    shopify = BackgroundServer(create_shopify_app(config)).start()
    receiver = BackgroundServer(
        create_receiver(
            ReceiverConfig(
                folder / "inbox", config.webhook_secret, "bench-callback-token-0123456789abcdef0123"
            )
        )
    ).start()
    try:
        shop = SandboxControl(shopify.url)
        for sku in SKUS:
            shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="20.00")]))
        for topic in TOPICS:
            shop.register_webhook(topic, f"{receiver.url}/webhooks/shopify")
        for n in range(args.orders):
            shop.place_order(
                OrderSpec(
                    lines=[LineSpec(sku=sku, quantity=rng.randint(1, 2)) for sku in rng.sample(SKUS, rng.randint(1, 3))],
                    shipping_address=UK,
                    customer_tags=["wholesale"] if n % 10 == 0 else [],
                )
            )  # fmt: skip
        inbox = Inbox(folder / "inbox")
        deadline = time.monotonic() + 120
        while len(inbox.since("shopify")) < args.orders and time.monotonic() < deadline:
            time.sleep(0.2)  # one `orders/paid` an order (`orders/create` is not subscribed)
        time.sleep(SETTLE_SECONDS)
        webhooks = len(inbox.since("shopify"))
        source = ShopifyOrdersSource(ShopifyClient(shopify.url, "shpat_sandbox"))
        rules = load_business_rules(REPO_ROOT / "data" / "config")

        old = Ledger(folder / "before.duckdb")
        start = _points(shop)
        polled = ingest(source, old, rules, "bench", datetime.now(UTC))
        notified = ingest_notified(inbox, source, old, rules, "bench", datetime.now(UTC))
        after_old = _points(shop)

        new = Ledger(folder / "after.duckdb")
        bodies = record_bodies(inbox, new, rules, "bench", datetime.now(UTC))
        left = ingest_notified(
            inbox, source, new, rules, "bench", datetime.now(UTC), until=new.get_cursor(BODY_CURSOR)
        )
        repolled = ingest(source, new, rules, "bench", datetime.now(UTC))
        after_ingest = _points(shop)
        ids = [o["id"] for o in shop.state()["orders"]]
        fill_customer_tags(source, new, rules, "bench", ids, datetime.now(UTC))
        after_new = _points(shop)
    finally:
        receiver.stop()
        shopify.stop()
    before = points_spent_per(start, after_old, args.orders)
    ingest_after = points_spent_per(after_old, after_ingest, args.orders)
    release_tags = points_spent_per(after_ingest, after_new, args.orders)
    total_before = sum(before.values())
    total_after = sum(ingest_after.values()) + sum(release_tags.values())
    figures: dict[str, Any] = {
        "orders": args.orders,
        "webhooks": webhooks,
        "before_points_per_order": before,
        "before_read_in_full": polled.orders_read + notified.read,
        "after_ingest_points_per_order": ingest_after,
        "after_release_customer_tags_points_per_order": release_tags,
        "after_recorded_from_bodies": bodies.recorded,
        "after_read_in_full": left.read + repolled.orders_read,
        "points_per_order_before": round(total_before, 2),
        "points_per_order_after": round(total_after, 2),
        "after_over_before": round(total_after / max(total_before, 1e-9), 3),
        "plus_orders_per_minute_before": round(PLUS_RESTORE / max(total_before, 1e-9) * 60),
        "plus_orders_per_minute_after": round(PLUS_RESTORE / max(total_after, 1e-9) * 60),
        "load_average": os.getloadavg()[0],
    }
    print(f"before (poll + reads by id): {json.dumps(before)} points per order; "
          f"{figures['before_read_in_full']} of {args.orders} orders read in full")  # fmt: skip
    print(f"after (bodies, then what they left): ingest {json.dumps(ingest_after)}, release's customer "
          f"tags {json.dumps(release_tags)} points per order; {bodies.recorded} recorded from bodies, "
          f"{figures['after_read_in_full']} read in full")  # fmt: skip
    print(f"{total_before:.2f} → {total_after:.2f} points per order ({figures['after_over_before']:.3f} of before); "
          f"Plus ({PLUS_RESTORE:g}/s) allows {figures['plus_orders_per_minute_before']:,} → "
          f"{figures['plus_orders_per_minute_after']:,} orders/min of ingest; load average {figures['load_average']:.1f}")  # fmt: skip
    print("JSON " + json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
