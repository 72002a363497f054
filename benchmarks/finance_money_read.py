"""The finance hourly money read: the full shape (every order with its refunds, 377 requested
points an order) against the cheap one it now uses (117 points an order, then the orders with
refunds read again whole by id), on the same orders in the same run.

Orders (default 1,000, 5 % with a refund) are placed in a Shopify sandbox on 127.0.0.1 (port 0),
then both reads page through every order changed in the last hour. Printed per shape: requested
and actual points per order (what Shopify takes from the bucket before answering, and what it keeps),
requests, and orders per second, with the cheap shape as a ratio of the full one.

    .venv/bin/python benchmarks/finance_money_read.py [--orders 1000] [--refunded 0.05] [--plan plus]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.finance import money_search
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
)
from sync_pipeline.sandbox.traffic_money import refund_one_unit


def measure(client: ShopifyClient, read: Callable[[], int]) -> dict[str, float]:
    stats = client.stats
    before = (stats.points_requested, stats.points_spent, stats.requests)
    started = time.monotonic()
    orders = read()
    elapsed = time.monotonic() - started
    return {
        "orders": orders,
        "requested_per_order": (stats.points_requested - before[0]) / orders,
        "actual_per_order": (stats.points_spent - before[1]) / orders,
        "requests": stats.requests - before[2],
        "orders_per_second": orders / elapsed,
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--refunded", type=float, default=0.05)
    parser.add_argument("--plan", default="plus", help="the sandbox's rate-limit plan (standard, plus)")
    args = parser.parse_args()
    server = BackgroundServer(create_app(ShopifySandboxConfig(plan=args.plan))).start()
    control = SandboxControl(server.url)
    client = ShopifyClient(server.url, "shpat_sandbox")
    try:
        control.add_product(ProductSpec(title="Tee", variants=[VariantSpec(sku="TEE", price="12.50")]))
        ids = [str(control.place_order(OrderSpec(lines=[LineSpec(sku="TEE", quantity=2)]))["id"])
               for _ in range(args.orders)]  # fmt: skip
        step = round(1 / args.refunded) if args.refunded else 0
        for order_id in ids[::step] if step else []:
            refund_one_unit(client, order_id, "NO_RESTOCK")
        search = money_search("updated_at", datetime.now(UTC) - timedelta(hours=1))
        full = measure(client, lambda: sum(1 for _ in client.iter_orders_money(search)))
        cheap = measure(client, lambda: sum(len(p.orders) for p in client.iter_money_pages(search)))
        print(f"{args.orders} orders, {len(ids[::step]) if step else 0} refunded, plan {args.plan}, "
              f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"{'':22}{'full':>10}{'cheap':>10}{'cheap/full':>12}")
        for key in ("requested_per_order", "actual_per_order", "requests", "orders_per_second", "seconds"):
            print(f"{key:22}{full[key]:>10.1f}{cheap[key]:>10.1f}{cheap[key] / full[key]:>12.2f}")
    finally:
        control.close()
        client.close()
        server.stop()


if __name__ == "__main__":
    main()
