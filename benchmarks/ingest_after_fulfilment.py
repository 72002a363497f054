"""Shopify points the orders ingest spends on orders the despatches flow has just fulfilled.

A lean companion of `despatch_flow.py` (no Dagster, in one process, a minute or two): both
sandboxes on 127.0.0.1, `--orders` orders placed, ingested and released with the orders flow's code,
despatched by the Peoplevox sandbox (20 % in two packages), fulfilled with the despatches flow's
code, then one more orders ingest poll. Prints Shopify points per package by operation for the
fulfil step and for that ingest poll (the sandbox counts them), against the Plus restore rate,
and a last line `JSON {…}`.

To compare two commits in one session, run it from a clean export of each:

    rm -rf /tmp/base && mkdir /tmp/base && git archive main | tar -x -C /tmp/base
    (cd /tmp/base && PYTHONPATH=/tmp/base /path/to/repo/.venv/bin/python benchmarks/ingest_after_fulfilment.py)
    .venv/bin/python benchmarks/ingest_after_fulfilment.py
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.rehearsal.stock_watch import UK
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
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
# Shopify's updatedAt has whole seconds; the orders flow trusts a read only 5 s after its version.
SETTLE_SECONDS = 6.0


def _points(shop: SandboxControl) -> dict[str, float]:
    return points_by_operation(shop.state()["stats"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=150)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    shopify = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=10_000, window_seconds=1.0))
    ).start()
    try:
        shop, pvx = SandboxControl(shopify.url), PeoplevoxControl(pvx_server.url)
        for sku in SKUS:
            shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="20.00")]))
        pvx.seed_items([(sku, f"50{i:011d}", sku.title()) for i, sku in enumerate(SKUS)])
        pvx.set_stock([(sku, "PrimarySite", 100_000) for sku in SKUS])
        source = ShopifyOrdersSource(ShopifyClient(shopify.url, "shpat_sandbox"))
        pvx_client = PeoplevoxClient(pvx_server.url, "sandbox", "integration", "sandbox-password",
                                     requests_per_window=10_000, window_seconds=1.0)  # fmt: skip
        warehouse = PeoplevoxWarehouse(pvx_client)
        rules = load_business_rules(REPO_ROOT / "data" / "config").with_orders(hold_window_seconds=0)
        ledger = Ledger(Path(tempfile.mkdtemp(prefix="ingest-after-fulfilment-")) / "ledger.duckdb")
        placed = [
            shop.place_order(
                OrderSpec(
                    lines=[LineSpec(sku=sku, quantity=rng.randint(1, 2)) for sku in rng.sample(SKUS, rng.randint(1, 3))],
                    shipping_address=UK,
                )
            )
            for _ in range(args.orders)
        ]  # fmt: skip
        time.sleep(SETTLE_SECONDS)
        refresh(source, warehouse, ledger, rules)
        ingest(source, ledger, rules, "bench", datetime.now(UTC))
        release(source, warehouse, ledger, rules, "bench", datetime.now(UTC))
        packages = 0
        for order in placed:
            full = shop.get_order(order["id"])
            items: dict[str, int] = {}
            for line in full["line_items"]:
                items[line["sku"]] = items.get(line["sku"], 0) + line["quantity"]
            if rng.random() < 0.2 and sum(items.values()) > 1:
                first, *rest = sorted(items)
                split = [{first: items[first]}, {k: items[k] for k in rest}] if rest else [
                    {first: 1}, {first: items[first] - 1}]  # fmt: skip
            else:
                split = [items]
            pvx.despatch(f"SHP-{order['legacy_id']}", split)
            packages += len(split)
        before = _points(shop)
        read_despatches(
            PeoplevoxDespatches(pvx_client), ledger, "bench", datetime.now(UTC), timedelta(days=2)
        )
        done = fulfil(ShopifyStorefront(source.client), ledger, rules, "bench", max_seconds=300)
        after_fulfil = _points(shop)
        time.sleep(SETTLE_SECONDS)
        report = ingest(source, ledger, rules, "bench", datetime.now(UTC))
        after_ingest = _points(shop)
    finally:
        shopify.stop()
        pvx_server.stop()
    fulfil_points = points_spent_per(before, after_fulfil, packages)
    ingest_points = points_spent_per(after_fulfil, after_ingest, packages)
    total = sum(fulfil_points.values()) + sum(ingest_points.values())
    figures: dict[str, Any] = {
        "orders": args.orders,
        "packages": packages,
        "fulfilled": done.fulfilled,
        "ingest_orders_read_in_full": report.orders_read,
        "fulfil_points_per_package": fulfil_points,
        "ingest_points_per_package": ingest_points,
        "points_per_package": round(total, 2),
        "plus_ceiling_packages_per_minute": round(PLUS_RESTORE / max(total, 1e-9) * 60),
        "load_average": os.getloadavg()[0],
    }
    print(f"fulfil step, Shopify points per package: {json.dumps(fulfil_points)}")
    print(f"next orders ingest, Shopify points per package: {json.dumps(ingest_points)} "
          f"({report.orders_read} of {args.orders} orders read in full)")  # fmt: skip
    print(f"total {total:.1f} points per package → Plus ({PLUS_RESTORE:g}/s) allows "
          f"{figures['plus_ceiling_packages_per_minute']:,}/min; load average {figures['load_average']:.1f}")  # fmt: skip
    print("JSON " + json.dumps(figures))
    return 0 if done.fulfilled == packages else 1


if __name__ == "__main__":
    raise SystemExit(main())
