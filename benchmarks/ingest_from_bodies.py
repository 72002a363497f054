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

`--peak`: the bodies arrive as at a sale (`--orders-per-minute`, default 1,500, for `--minutes`;
`--edit-share` of them edited right after payment, often in the same second) while ingest runs
go round as the ingest asset's live run does them (the body step, then the poll and the reads by
id of what the bodies left; `--run-gap` seconds between runs for the run's start-up), until
drained. Twice, each on a fresh sandbox and ledger: the body step recording young bodies at once
(`max_wait` 0, what main did before the wait) and waiting for them to settle (the default). Prints
Shopify points per order by operation for each, why orders were left to the read by id, and how
long the body steps waited.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, bodies_waiting, record_bodies
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.ingest import LIVE_READ_SECONDS, ingest, ingest_notified
from sync_pipeline.lib.flows.orders.observed import SETTLE
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
    EditSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    QuantityChange,
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
    parser.add_argument("--peak", action="store_true", help="bodies arriving as at a sale, runs going round")
    parser.add_argument("--orders-per-minute", type=float, default=1500.0)
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--edit-share", type=float, default=0.05)
    parser.add_argument(
        "--run-gap",
        type=float,
        default=8.0,
        help="seconds between runs (run start-up: 7.6 s in the rehearsal)",
    )
    args = parser.parse_args(argv)
    if args.peak:
        return _peak(args)
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="ingest-from-bodies-"))
    shopify, receiver, shop = _servers(folder)
    try:
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


def _servers(folder: Path) -> tuple[BackgroundServer, BackgroundServer, SandboxControl]:
    """A Plus Shopify sandbox with the catalogue, its order webhooks delivered to a real receiver."""
    config = ShopifySandboxConfig(plan="plus")
    shopify = BackgroundServer(create_shopify_app(config)).start()
    receiver = BackgroundServer(
        create_receiver(
            ReceiverConfig(
                folder / "inbox",
                config.webhook_secret,
                "bench-callback-token-0123456789abcdef0123",
                config.shop_domain,
            )
        )
    ).start()
    shop = SandboxControl(shopify.url)
    for sku in SKUS:
        shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="20.00")]))
    for topic in TOPICS:
        shop.register_webhook(topic, f"{receiver.url}/webhooks/shopify")
    return shopify, receiver, shop


def _sale(shop: SandboxControl, args: argparse.Namespace, placed: list[str]) -> None:
    """Orders at the sale's rate, evenly spaced; a share edited at once (a second body, often of
    the same second)."""
    rng = random.Random(args.seed)
    count = round(args.orders_per_minute * args.minutes)
    start = time.monotonic()
    for n in range(count):
        time.sleep(max(0.0, start + n * 60.0 / args.orders_per_minute - time.monotonic()))
        order = shop.place_order(
            OrderSpec(
                lines=[LineSpec(sku=sku, quantity=rng.randint(1, 2)) for sku in rng.sample(SKUS, rng.randint(1, 3))],
                shipping_address=UK,
            )
        )  # fmt: skip
        if rng.random() < args.edit_share:
            line = order["line_items"][0]
            change = QuantityChange(line_item_id=line["id"], quantity=line["quantity"] + 1)
            shop.edit_order(order["id"], EditSpec(set_quantities=[change]))
        placed.append(order["id"])


def _peak_variant(args: argparse.Namespace, max_wait: float) -> dict[str, Any]:
    """One sale on a fresh sandbox and ledger, ingest runs going round until drained."""
    folder = Path(tempfile.mkdtemp(prefix="ingest-from-bodies-peak-"))
    shopify, receiver, shop = _servers(folder)
    try:
        inbox, ledger = Inbox(folder / "inbox"), Ledger(folder / "ledger.duckdb")
        source = ShopifyOrdersSource(ShopifyClient(shopify.url, "shpat_sandbox"))
        rules = load_business_rules(REPO_ROOT / "data" / "config")
        start, load_before = _points(shop), os.getloadavg()[0]
        placed: list[str] = []
        sale = threading.Thread(target=_sale, args=(shop, args, placed), daemon=True)
        sale.start()
        why: Counter[str] = Counter()
        runs, waited, waits, quiet_runs, body_seconds = 0, 0, [], 0, []
        polled_in_full, read_by_id, recorded_unsettled = 0, 0, 0
        drain_until = None
        while quiet_runs < 2 and (drain_until is None or time.monotonic() < drain_until):
            runs += 1
            began = time.monotonic()
            bodies = record_bodies(
                inbox, ledger, rules, "bench", datetime.now(UTC), max_seconds=LIVE_READ_SECONDS, max_wait=max_wait
            )  # fmt: skip
            body_seconds.append(time.monotonic() - began)
            why.update(bodies.left_to_read)
            waited += bodies.waited_for
            waits.append(bodies.waited_seconds)
            waiting = bodies_waiting(inbox, ledger.get_cursor(BODY_CURSOR)) if max_wait else None
            polled = ingest(
                source, ledger, rules, "bench", datetime.now(UTC), max_seconds=LIVE_READ_SECONDS,
                bodies_waiting=waiting,
            )  # fmt: skip
            notified = ingest_notified(
                inbox, source, ledger, rules, "bench", datetime.now(UTC), until=ledger.get_cursor(BODY_CURSOR)
            )  # fmt: skip
            polled_in_full += polled.orders_read
            read_by_id += notified.read
            recorded_unsettled += bodies.recorded_unsettled
            busy = bodies.recorded or polled.orders_read or notified.read or not bodies.caught_up
            if sale.is_alive():
                quiet_runs = 0
            else:
                drain_until = drain_until or time.monotonic() + 120
                quiet_runs = 0 if busy else quiet_runs + 1
            time.sleep(args.run_gap)
        end, load_after = _points(shop), os.getloadavg()[0]
    finally:
        receiver.stop()
        shopify.stop()
    orders = len(placed)
    spent = points_spent_per(start, end, orders)
    body_seconds.sort()
    return {
        "max_wait": max_wait,
        "orders": orders,
        "runs": runs,
        "points_per_order": round(sum(spent.values()), 2),
        "points_per_order_by_operation": spent,
        "orders_by_ids_points_per_order": spent.get("OrdersByIds", 0.0),
        "left_to_read": dict(why),
        "recorded_unsettled_from_bodies": recorded_unsettled,
        "poll_read_in_full": polled_in_full,  # listed, not held settled: arrived after the body step's listing, or refused
        "read_by_id_from_webhooks": read_by_id,
        "orders_waited_for": waited,
        "wait_seconds_mean": round(sum(waits) / max(len(waits), 1), 2),
        "body_step_seconds_p50": round(body_seconds[len(body_seconds) // 2], 2),
        "body_step_seconds_max": round(body_seconds[-1], 2),
        "load_average": [round(load_before, 1), round(load_after, 1)],
    }


def _peak(args: argparse.Namespace) -> int:
    before = _peak_variant(args, max_wait=0.0)
    print(f"before (young bodies recorded at once): {json.dumps(before)}", flush=True)
    after = _peak_variant(args, max_wait=SETTLE.total_seconds())
    print(f"after (young bodies waited for): {json.dumps(after)}", flush=True)
    ratio = after["points_per_order"] / max(before["points_per_order"], 1e-9)
    print(
        f"{before['points_per_order']:.2f} → {after['points_per_order']:.2f} Shopify points per order "
        f"({ratio:.3f} of before); OrdersByIds {before['orders_by_ids_points_per_order']:.2f} → "
        f"{after['orders_by_ids_points_per_order']:.2f}; load average {before['load_average']} / {after['load_average']}"
    )
    print(
        "JSON "
        + json.dumps({"peak": True, "before": before, "after": after, "after_over_before": round(ratio, 3)})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
