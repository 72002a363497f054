"""Stock flow benchmark: (a) the hourly full reconcile at catalogue scale, (b) incremental pushes
at a busy warehouse's change rate through the real daemon.

(a) `--part reconcile`: both sandboxes in this process, 50,000 SKUs × 2 sites/locations, a
baseline reconcile (set-up, not timed: the sandboxes' limits are opened for it), an hour passes
(the sandbox's level timestamps are moved back an hour), 10 % of item-site figures change in
Peoplevox, then one full reconcile (`snapshot_and_prepare` + `push`, the code the hourly job runs:
the push's other inputs are read while Peoplevox is) against
the plan's real bucket and Peoplevox's real limiter (15 / 15 s). Printed: elapsed ÷ the budget
bound, where the bound is what the two APIs allow for the same work: Shopify points spent ÷ restore rate, plus
Peoplevox requests ÷ the limiter's rate (the read comes before the push). Goal ≤ 1.1. Once per
plan. (The set-up's catalogue read and baseline run with the limits opened; they are not timed.)

(b) `--part incremental`: sandboxes, receiver and `dg dev` (webserver + daemon) as child
processes, Peoplevox callbacks subscribed as `sync-pipeline subscribe` does. For `--minutes`
the warehouse receives goods at `--changes-per-second` (random SKUs, +1…5 units each, every one
raising AvailabilityChanges), while shoppers buy a separate set of SKUs that the orders flow
(also running) sends to Peoplevox. Printed: change in Peoplevox → Shopify shows it p50 / p95
(Shopify polled every `--poll-seconds`, which bounds the resolution), THROTTLED share, Shopify
points per level update, stock runs per minute, and the oversell invariant sampled throughout
(Shopify available never above Peoplevox available − units on orders Peoplevox has not allocated).

    .venv/bin/python benchmarks/stock_flow.py --smoke                   # (b), short: a few minutes
    .venv/bin/python benchmarks/stock_flow.py --part reconcile          # (a), Plus and Standard
    .venv/bin/python benchmarks/stock_flow.py --part incremental        # (b), 100 changes/s for 5 min

The last line is `JSON {…}`.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from _stock_incremental import run_incremental

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.reconcile import snapshot_and_prepare
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_full
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow, VariantRow
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.rehearsal.stack import log
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import PLANS, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control_models import ProductSpec, VariantSpec
from sync_pipeline.settings import REPO_ROOT

SITES = {"PrimarySite": "Warehouse", "SecondSite": "Second warehouse"}
PVX_LIMIT = (15, 15.0)  # Peoplevox's real limiter: requests per window, window seconds


def bench_config(root: Path, sites: dict[str, str]) -> Path:
    """A copy of data/config whose stock.yaml publishes the benchmark's sites."""
    config = root / "config"
    shutil.copytree(REPO_ROOT / "data" / "config", config)
    stock = yaml.safe_load((config / "stock.yaml").read_text(encoding="utf-8")) or {}
    stock["locations"] = sites
    stock["unpublished_sites"] = ["Wholesale"]
    (config / "stock.yaml").write_text(yaml.safe_dump(stock, sort_keys=False), encoding="utf-8")
    routing = config / "routing.yaml"
    text = routing.read_text(encoding="utf-8")
    extra = "".join(f"  - {site}\n" for site in sites if f"- {site}" not in text)
    routing.write_text(text.replace("sites:\n", "sites:\n" + extra, 1), encoding="utf-8")
    load_business_rules(config)  # fail now, naming the file
    return config


def _catalogue(shop: Any, pvx: Any, ledger: Ledger) -> None:
    """Set-up: the catalogue as the catalogue job would read it, written straight from both
    sandboxes' state (the sandbox's variant pages are slow at this size, and this is not timed)."""
    store = shop.store
    variants = [
        VariantRow(f"gid://shopify/ProductVariant/{v.id}", v.sku, v.barcode,
                   f"gid://shopify/InventoryItem/{v.inventory_item_id}", store.products[v.product_id].title,
                   False, (), True)
        for v in store.variants.values()
    ]  # fmt: skip
    items = [ItemTypeRow(i.item_code, i.barcode, i.name) for i in pvx.warehouse.items.values()]
    with ledger.transaction() as con:
        ledger_catalogue.replace_variants(con, variants)
        ledger_catalogue.upsert_item_types(con, items, full=True)


def reconcile(skus: int, plan: str, changed_share: float, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    root = Path(tempfile.mkdtemp(prefix="stock-reconcile-bench-"))
    try:
        config = bench_config(root, SITES)
        rules = load_business_rules(config)
        shop_app = create_shopify_app(ShopifySandboxConfig(plan=plan))
        pvx_app = create_pvx_app(
            PeoplevoxSandboxConfig(requests_per_window=100_000, window_seconds=1.0, sites=tuple(SITES))
        )
        shop, pvx = shop_app.state.sandbox, pvx_app.state.sandbox
        codes = [f"SKU-{i:06d}" for i in range(skus)]
        log(f"[{plan}] seeding {skus:,} SKUs × {len(SITES)} sites")
        shop.store.add_location(SITES["SecondSite"])
        for start in range(0, skus, 100):
            shop.store.add_product(ProductSpec(
                title=f"Product {start // 100}",
                variants=[VariantSpec(sku=c, title=c, price="10") for c in codes[start : start + 100]],
            ))  # fmt: skip
        for i, code in enumerate(codes):
            pvx.warehouse.upsert_item(code, f"50{i:011d}", code)
            for site in SITES:
                pvx.warehouse.set_stock(code, site, rng.randint(5, 200))
        size, rate = PLANS[plan]
        with serve_in_thread(shop_app) as shop_url, serve_in_thread(pvx_app) as pvx_url:
            ledger = Ledger(root / "ledger.duckdb")
            # Set-up at full speed: catalogue and a baseline reconcile (every level read and pushed).
            shop.bucket.size = shop.bucket.restore_rate = 10**9
            shop.bucket.reset()
            with (
                ShopifyClient(shop_url, "shpat_sandbox") as client,
                PeoplevoxClient(pvx_url, "sandbox", "integration", "sandbox-password", 100_000, 1.0) as c,
            ):
                _catalogue(shop, pvx, ledger)
                baseline_at = datetime.now(UTC) - timedelta(hours=1)
                take_full(PeoplevoxStock(c), ledger, rules, baseline_at, run_id="baseline")
                base = push(ShopifyStock(client), ledger, rules, baseline_at, run_id="baseline")
            log(f"[{plan}] baseline: {base.applied:,} levels pushed, {base.listings:,} listings")
            # An hour passes: nothing in Shopify changed since the baseline read.
            with shop.store.lock:
                for level in shop.store.levels.values():
                    level.updated_at -= timedelta(hours=1)
            pairs = [(code, site) for code in codes for site in SITES]
            changed = rng.sample(pairs, round(len(pairs) * changed_share))
            for code, site in changed:
                pvx.warehouse.set_stock(code, site, rng.randint(0, 250))
            # The real limits from here on, from a full bucket and an empty limiter window.
            shop.bucket.size, shop.bucket.restore_rate = size, rate
            shop.bucket.reset()
            pvx.limiter.configure(*PVX_LIMIT)
            shop_before = dict(shop.stats)
            pvx_before = sum(pvx.counters.requests.values())
            with (
                ShopifyClient(shop_url, "shpat_sandbox") as client,
                PeoplevoxClient(pvx_url, "sandbox", "integration", "sandbox-password", *PVX_LIMIT) as c,
            ):
                started = time.monotonic()
                now = datetime.now(UTC)
                storefront = ShopifyStock(client)
                # As the hourly job: the snapshot step prepares the push while Peoplevox is read.
                snap, prepared = snapshot_and_prepare(
                    PeoplevoxStock(c), storefront, ledger, rules, now, "timed"
                )
                read_seconds = time.monotonic() - started
                report = push(storefront, ledger, rules, now, run_id="timed", prepared=prepared)
                elapsed = time.monotonic() - started
        points = shop.stats.get("points_spent", 0) - shop_before.get("points_spent", 0)
        requests = shop.stats.get("requests", 0) - shop_before.get("requests", 0)
        throttled = shop.stats.get("throttled", 0) - shop_before.get("throttled", 0)
        pvx_requests = sum(pvx.counters.requests.values()) - pvx_before
        shopify_bound = points / rate
        pvx_bound = pvx_requests / (PVX_LIMIT[0] / PVX_LIMIT[1])
        bound = shopify_bound + pvx_bound
        figures = {
            "plan": plan,
            "skus": skus,
            "levels": report.listings,
            "changed_pairs": len(changed),
            "snapshot_verdict": snap.verdict,
            "levels_pushed": report.applied,
            "stale": report.stale,
            "elapsed_seconds": round(elapsed, 1),
            "peoplevox_read_seconds": round(read_seconds, 1),
            "shopify_points": round(points),
            "shopify_requests": requests,
            "shopify_throttled": throttled,
            "peoplevox_requests": pvx_requests,
            "bound_seconds": round(bound, 1),
            "shopify_bound_seconds": round(shopify_bound, 1),
            "peoplevox_bound_seconds": round(pvx_bound, 1),
            "elapsed_over_bound": round(elapsed / bound, 3) if bound else None,
        }
        log(
            f"[{plan}] reconcile of {skus:,} SKUs × {len(SITES)}: {elapsed:.1f}s "
            f"(Peoplevox read {read_seconds:.1f}s); {report.applied:,} of {report.listings:,} levels pushed; "
            f"Shopify {points:,.0f} points in {requests} requests ({throttled} THROTTLED), bound "
            f"{shopify_bound:.1f}s; Peoplevox {pvx_requests} requests, bound {pvx_bound:.1f}s; "
            f"elapsed ÷ bound = {figures['elapsed_over_bound']} (goal ≤ 1.1)"
        )
        return figures
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--part", choices=["reconcile", "incremental", "both"], default="both")
    parser.add_argument("--smoke", action="store_true", help="a short (b): a few minutes")
    parser.add_argument("--skus", type=int, default=50_000, help="(a) catalogue size")
    parser.add_argument("--plans", default="plus,standard", help="(a) Shopify plans, comma-separated")
    parser.add_argument("--changed-share", type=float, default=0.10, help="(a) share of figures changed")
    parser.add_argument("--changes-per-second", type=float, default=100.0, help="(b)")
    parser.add_argument("--minutes", type=float, default=5.0, help="(b)")
    parser.add_argument("--incremental-skus", type=int, default=2_000, help="(b) catalogue size")
    parser.add_argument("--orders-per-minute", type=float, default=60.0, help="(b) shoppers' rate")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="(b) how often Shopify is read")
    parser.add_argument("--shopify-plan", default="plus", help="(b)")
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="(b) seconds after the last change"
    )
    parser.add_argument(
        "--base-port", type=int, default=None, help="(b) use 4 ports from here (default: free ones)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="(b) keep the temporary directory")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    result: dict[str, Any] = {}
    ok = True
    if args.smoke:
        args.part, args.minutes, args.changes_per_second = "incremental", 1.0, 20.0
        args.incremental_skus, args.drain_timeout = 500, 180.0
    if args.part in ("reconcile", "both"):
        result["reconcile"] = [
            reconcile(args.skus, plan.strip(), args.changed_share, args.seed)
            for plan in args.plans.split(",")
        ]
    if args.part in ("incremental", "both"):
        incremental = run_incremental(args)
        result.update(incremental)
        ok = incremental.get("oversell_violations") == 0 and incremental.get("unseen_changes") == 0
    print("JSON " + json.dumps(result, default=str), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
