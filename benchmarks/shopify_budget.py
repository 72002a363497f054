"""How well the Shopify client spends the rate-limit budget (standard plan: 2,000 / 100 per s).

Runs the sandbox in-process, seeds a catalogue and orders, then through `ShopifyClient`:
reads every order changed since the start (incremental order sync), reads stock levels once
and writes `--stock-rounds` rounds of absolute quantities with compare-and-set (stock push).
Prints points spent per second ÷ restore rate, THROTTLED share, and request counts.

    .venv/bin/python benchmarks/shopify_budget.py [--orders 1000] [--skus 1000] [--stock-rounds 3]

The default run takes about three minutes: the budget, not the machine, sets the pace.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.models import StockWrite
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control_models import (
    AddressSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.shopify.state import SandboxState


def seed(state: SandboxState, skus: int, orders: int, rng: random.Random) -> list[str]:
    store = state.store
    names = [f"SKU-{i:05d}" for i in range(skus)]
    for start in range(0, skus, 10):
        variants = [
            VariantSpec(sku=s, title=s, barcode=f"50{i:08d}") for i, s in enumerate(names[start : start + 10])
        ]
        store.add_product(ProductSpec(title=f"Product {start // 10}", variants=variants))
    for sku in names:
        store.set_stock(sku, 100)
    address = AddressSpec(
        name="Zoë Ñandú", address1='1 Rue de l\'Église, "Bât. B"', city="Paris", country_code="FR"
    )
    for _ in range(orders):
        lines = [
            LineSpec(sku=rng.choice(names), quantity=rng.randint(1, 3))
            for _ in range(rng.choice((1, 1, 2, 2, 3)))
        ]
        store.place_order(OrderSpec(lines=lines, shipping_address=address))
    return [f"gid://shopify/InventoryItem/{v.inventory_item_id}" for v in store.variants.values()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--skus", type=int, default=1000)
    parser.add_argument("--stock-rounds", type=int, default=3)
    parser.add_argument("--plan", default="standard")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    app = create_app(ShopifySandboxConfig(plan=args.plan))
    state: SandboxState = app.state.sandbox
    since = datetime.now(UTC) - timedelta(seconds=1)
    items = seed(state, args.skus, args.orders, rng)
    print(f"seeded {args.skus} SKUs and {args.orders} orders; plan {args.plan}", flush=True)

    with serve_in_thread(app) as url, ShopifyClient(url, "shpat_sandbox") as client:
        location = client.list_locations()[0].id
        state.bucket.reset()  # start from a full bucket, as a fresh app would
        start_available = state.bucket.available()
        started = time.monotonic()

        read = sum(1 for _ in client.iter_orders_updated_since(since))
        order_requests = sum(
            client.stats.by_operation.get(op, 0) for op in ("OrdersUpdatedSince", "OrderLineItems")
        )
        t_orders = time.monotonic() - started

        levels = client.get_inventory_levels(items, location)
        current = {item: level.available for item, level in levels.items()}
        updates = 0
        for round_no in range(args.stock_rounds):
            writes = [StockWrite(inventory_item_id=i, location_id=location, quantity=rng.randint(0, 200),
                                 expected=current[i]) for i in items]  # fmt: skip
            client.set_inventory_quantities(writes, reason="correction", idempotency_key=f"bench-{round_no}")
            current = {w.inventory_item_id: w.quantity for w in writes}
            updates += len(writes)
        elapsed = time.monotonic() - started
        stock_requests = sum(
            client.stats.by_operation.get(op, 0) for op in ("InventoryLevels", "InventorySetQuantities")
        )

    stats = state.stats
    rate = state.bucket.restore_rate
    spent = stats["points_spent"]
    credit = start_available - state.bucket.available()  # what the initial full bucket paid for
    throttled_pct = 100.0 * stats["throttled"] / max(1, stats["requests"])
    print(f"orders read:              {read} in {t_orders:.1f}s")
    print(f"stock updates written:    {updates}")
    print(f"elapsed:                  {elapsed:.1f}s")
    print(f"points spent:             {spent:.0f} ({credit:.0f} of them from the initial bucket)")
    print(f"points/s ÷ restore rate:  {spent / elapsed / rate:.3f}  (goal ≥ 0.9)")
    print(f"  excluding bucket credit: {(spent - credit) / elapsed / rate:.3f}")
    print(
        f"THROTTLED responses:      {stats['throttled']} of {stats['requests']} requests = {throttled_pct:.2f} %  (goal ≤ 1 %)"
    )
    print(f"requests per 1,000 orders:        {1000 * order_requests / max(1, read):.1f}")
    print(f"requests per 1,000 stock updates: {1000 * stock_requests / max(1, updates):.1f}")
    print(f"client waited for budget: {client.transport.pacer.waited_seconds:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
