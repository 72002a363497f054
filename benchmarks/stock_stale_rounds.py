"""A stock push during a sale: how many rows Shopify applies per round of stale re-reads, with this
tree's code and a baseline tree's, against the same seeded sale.

    .venv/bin/python benchmarks/stock_stale_rounds.py --baseline-tree DIR [--rows 232] [--orders-per-second 25]

The session-9 rehearsal (1,500 orders a minute) sent ~232 rows per stock run in one
`inventorySetQuantities`, ~8 of them stale each time (a sale moved them between the read and the
write); Shopify applies a request whole or not at all. Here both sandboxes run in-process over real
HTTP; `--rows` SKUs get goods-in (every listing differs from Shopify) and one incremental push sends
them while shoppers buy one unit of a random one of those SKUs `--orders-per-second` times a second
(25: 1,500 orders a minute), through the sandbox's store in-process (`available` down, `committed`
up), from the push's start to its end. Each tree runs in its own process (`PYTHONPATH`), the same
seed for both; the sale is paced in real time, so the two runs meet the same rate, not the same
orders. Prints requests and rows applied per round (a round ends at a re-read of
Shopify), rows applied, rows left stale, and whether every row applied shows its final target.
Last line `JSON {…}`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
SITE, LOCATION = "PrimarySite", "Warehouse"


def _child(rows: int, orders_per_second: float, seed: int, max_seconds: float | None) -> dict[str, Any]:
    """Runs in a subprocess whose `sync_pipeline` is the tree under test."""
    from collections.abc import Sequence
    from datetime import UTC, datetime

    import sync_pipeline
    from sync_pipeline.lib.domain.config import load_business_rules
    from sync_pipeline.lib.flows import catalogue
    from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
    from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
    from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
    from sync_pipeline.lib.flows.stock.ports import QuantityWrite, StaleWrite
    from sync_pipeline.lib.flows.stock.push import push
    from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
    from sync_pipeline.lib.flows.stock.snapshot import take_full, take_queued
    from sync_pipeline.lib.ledger import Ledger, stock_levels, stock_snapshots
    from sync_pipeline.lib.ledger.stock_levels import LevelRow
    from sync_pipeline.lib.peoplevox import PeoplevoxClient
    from sync_pipeline.lib.shopify import ShopifyClient
    from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
    from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
    from sync_pipeline.sandbox.server import serve_in_thread
    from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
    from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
    from sync_pipeline.sandbox.shopify.control import (
        LineSpec,
        OrderSpec,
        ProductSpec,
        SandboxControl,
        VariantSpec,
    )

    rules = load_business_rules(HERE / "data" / "config").with_orders(hold_window_seconds=0)
    shop_app = create_shopify_app(ShopifySandboxConfig(plan="plus"))
    pvx_app = create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=1000, window_seconds=1.0))
    shop, pvx = shop_app.state.sandbox, pvx_app.state.sandbox
    codes = [f"SALE-{i:04d}" for i in range(rows)]
    for start in range(0, rows, 100):
        shop.store.add_product(ProductSpec(
            title=f"Product {start // 100}",
            variants=[VariantSpec(sku=c, title=c, price="10") for c in codes[start : start + 100]],
        ))  # fmt: skip
    for i, code in enumerate(codes):
        pvx.warehouse.upsert_item(code, f"60{i:011d}", code)
        pvx.warehouse.set_stock(code, SITE, 100)

    class Logged(ShopifyStock):
        """Keeps a log of writes ("write", rows, applied?) and reads ("read", 0, True)."""

        def __init__(self, client: ShopifyClient) -> None:
            super().__init__(client)
            self.lock = threading.Lock()
            self.log: list[tuple[str, int, bool]] = []

        def set_available(self, writes: Sequence[QuantityWrite], key: str, reference: str) -> None:
            try:
                super().set_available(writes, key, reference)
            except StaleWrite:
                with self.lock:
                    self.log.append(("write", len(writes), False))
                raise
            with self.lock:
                self.log.append(("write", len(writes), True))

        def levels(self, inventory_item_ids: Sequence[str], location_id: str) -> dict[str, LevelRow]:
            with self.lock:
                self.log.append(("read", 0, True))
            return super().levels(inventory_item_ids, location_id)

    stop = threading.Event()
    sold = [0]

    def sale() -> None:
        """Shoppers buy one unit of a random SKU, `orders_per_second` times a second, through the
        sandbox's store (in this process): Shopify's `available` drops, its `committed` rises."""
        rng = random.Random(seed)
        interval = 1 / orders_per_second
        next_at = time.monotonic()
        while not stop.is_set():
            shop.store.place_order(OrderSpec(lines=[LineSpec(sku=rng.choice(codes), quantity=1)]))
            sold[0] += 1
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    with (
        tempfile.TemporaryDirectory(prefix="stock-stale-bench-") as tmp,
        serve_in_thread(shop_app) as shop_url,
        serve_in_thread(pvx_app) as pvx_url,
        ShopifyClient(shop_url, "shpat_sandbox") as client,
        PeoplevoxClient(pvx_url, "sandbox", "integration", "sandbox-password", 1000, 1.0) as pvx_client,
    ):
        ledger = Ledger(Path(tmp) / "ledger.duckdb")
        catalogue.refresh(ShopifyOrdersSource(client), PeoplevoxWarehouse(pvx_client), ledger, rules)
        now = datetime.now(UTC)
        take_full(PeoplevoxStock(pvx_client), ledger, rules, now, run_id="baseline")
        push(ShopifyStock(client), ledger, rules, now, run_id="baseline")
        for code in codes:
            pvx.warehouse.goods_in(code, SITE, 10)
        with ledger.transaction() as con:
            stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))
        storefront = Logged(client)
        now = datetime.now(UTC)
        take_queued(PeoplevoxStock(pvx_client), ledger, rules, now, run_id="sale")
        seller = threading.Thread(target=sale, daemon=True)
        seller.start()
        started = time.monotonic()
        try:
            report = push(storefront, ledger, rules, now, run_id="sale", max_seconds=max_seconds)
        finally:
            elapsed = time.monotonic() - started
            stop.set()
            seller.join(timeout=10)
        control = SandboxControl(shop_url)
        with ledger.transaction() as con:
            positions = stock_levels.positions(con)
        levels = {s["sku"]: s for s in control.stock() if s["location"] == LOCATION}
        # What each SKU should show now: Peoplevox available − Shopify's committed (the sale's units,
        # no order of which the ledger knows) − the default buffer.
        with pvx.warehouse.lock:
            figures = {code: pvx.warehouse.stock[(code, SITE)].available for code in codes}
        control.close()
    rounds: list[list[int]] = [[0, 0]]
    first = next(i for i, (kind, _, _) in enumerate(storefront.log) if kind == "write")
    for kind, n, applied in storefront.log[first:]:
        if kind == "read":
            rounds.append([0, 0])
        else:
            rounds[-1][0] += 1
            rounds[-1][1] += n if applied else 0
    applied_rows = {sku for (sku, _), p in positions.items() if p.last_outcome == "applied"}
    buffer = rules.stock_buffers.default
    wrong = [sku for sku in applied_rows
             if levels[sku]["available"] != max(0, figures[sku] - levels[sku]["committed"] - buffer)]  # fmt: skip
    return {
        "tree": str(Path(sync_pipeline.__file__).resolve().parents[1]),
        "rounds": [r for r in rounds if r[0]],
        "push_seconds": round(elapsed, 2),
        "orders_during_push": sold[0],
        "requests": report.requests,
        "rows": report.differing,
        "applied": report.applied,
        "stale_rows_named": report.stale,
        "stale_left": report.stale_left,
        "deferred": report.deferred,
        "applied_rows_off_target": len(wrong),
    }


def _run(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, __file__, "--child", "--rows", str(args.rows), "--orders-per-second",
               str(args.orders_per_second), "--seed", str(args.seed)]  # fmt: skip
    if args.max_seconds is not None:
        command += ["--max-seconds", str(args.max_seconds)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if Path(str(result["tree"])) != tree.resolve():
        raise SystemExit(f"the child imported {result['tree']}, not {tree}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-tree", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=232)
    parser.add_argument("--orders-per-second", type=float, default=25.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=None, help="the push's time budget (none)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.rows, args.orders_per_second, args.seed, args.max_seconds)))
        return
    results = {"this": _run(HERE, args)}
    if args.baseline_tree is not None:
        results["baseline"] = _run(args.baseline_tree, args)
    load = os.getloadavg()[0]
    for name, found in results.items():
        rounds = ", ".join(f"{r} req / {a} applied" for r, a in found["rounds"])
        print(f"{name:8} {found['tree']}: {found['applied']} of {found['rows']} rows applied in "
              f"{found['requests']} requests, {found['push_seconds']} s ({found['orders_during_push']} orders "
              f"meanwhile); per round: {rounds}; stale rows named {found['stale_rows_named']}, "
              f"left stale {found['stale_left']}, deferred {found['deferred']}; applied rows not at "
              f"their target now: {found['applied_rows_off_target']}")  # fmt: skip
    print(f"rows {args.rows}, {args.orders_per_second} orders/s, seed {args.seed}, load {load:.1f}")
    print("JSON " + json.dumps({**results, "rows": args.rows, "orders_per_second": args.orders_per_second,
                                "load": load}))  # fmt: skip


if __name__ == "__main__":
    main()
