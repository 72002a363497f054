"""A backfill of historic orders, paginated vs one bulk operation, while live orders keep arriving.

The Shopify sandbox runs in a child process (so its export thread and the clients here do not
share one interpreter lock), seeded in-process with `--orders` historic orders spread over the
last 30 days. Live orders are placed over HTTP at `--live-per-minute` throughout, and a live
ingest loop (its own client, the same app and bucket) reads orders updated since its cursor
every `--poll-seconds`, as the orders flow's ingest does. Three phases, one after the other:

1. baseline: live traffic only, `--baseline-seconds`;
2. paginated backfill of the newest `--paginated-orders` historic orders (the path every
   backfill took before bulk operations), through `iter_orders_created_between` with bulk off;
3. bulk backfill of all `--orders` through the same call with bulk on (one bulk operation).

`--read finance` backfills finance's money read instead (`iter_orders_money_created_between`, the
call `finance/order_reconciliation`'s backfill makes), with `--refunded-share` of the historic
orders given a one-unit refund first: its bulk form reads those orders again by id, in pages.

Printed per phase: backfill elapsed, orders read, Shopify points spent by the backfill (from
`extensions.cost`, as Shopify reports them) and per order, the bucket share it took, THROTTLED
answers; the live ingest's seen-latency p50 / p95 / max as ratios against the baseline of the
same run. When `--paginated-orders` is smaller than `--orders`, the paginated figures for the
whole backfill are extrapolated linearly (points are per order; elapsed is bound by the
restore rate) and marked so.

    .venv/bin/python benchmarks/shopify_bulk_backfill.py [--orders 100000] [--paginated-orders 10000]
        [--plan plus] [--live-per-minute 120] [--poll-seconds 2] [--port 8795]
        [--read orders|finance] [--refunded-share 0.05]

The sandbox answers every query with graphql-core in Python: its export speed says nothing of
Shopify's, so the bulk elapsed time here is the sandbox's CPU, not a Shopify figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import resource
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sync_pipeline.lib.shopify import ShopifyClient, ShopifyError
from sync_pipeline.rehearsal.report import rounded
from sync_pipeline.rehearsal.stack import percentile
from sync_pipeline.sandbox.shopify.config import PLANS
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, SandboxControl
from sync_pipeline.sandbox.traffic_money import refund_one_unit

HISTORY = timedelta(days=30)
SKUS = 500


def _serve_sandbox(port: int, plan: str, orders: int, base: float, step: float, ready: Any) -> None:
    """Child process: seed the sandbox in-process, shift the orders into the past, serve it."""
    from sync_pipeline.sandbox.server import BackgroundServer
    from sync_pipeline.sandbox.shopify.app import create_app
    from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
    from sync_pipeline.sandbox.shopify.control_models import LineSpec, OrderSpec, ProductSpec, VariantSpec

    app = create_app(ShopifySandboxConfig(plan=plan))
    store = app.state.sandbox.store
    names = [f"SKU-{i:05d}" for i in range(SKUS)]
    for start in range(0, SKUS, 10):
        variants = [VariantSpec(sku=s, title=s) for s in names[start : start + 10]]
        store.add_product(ProductSpec(title=f"Product {start // 10}", variants=variants))
    rng = random.Random(7)
    for index in range(orders):
        lines = [
            LineSpec(sku=rng.choice(names), quantity=rng.randint(1, 3))
            for _ in range(rng.choice((1, 2, 2, 3)))
        ]
        order = store.place_order(OrderSpec(lines=lines))
        moment = datetime.fromtimestamp(base + index * step, UTC)
        order.created_at = order.updated_at = order.processed_at = moment
    server = BackgroundServer(app, port=port).start()
    ready.set()
    while True:
        time.sleep(3600)
    server.stop()  # pragma: no cover


@dataclass
class Live:
    """Live orders placed over HTTP, and the ingest loop that must see each of them."""

    url: str
    per_minute: float
    poll_seconds: float
    placed: dict[str, float] = field(default_factory=dict)
    seen: dict[str, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    client: ShopifyClient | None = None
    failed_reads: list[float] = field(default_factory=list)  # when a live read gave up (retries exhausted)
    failed_places: list[float] = field(default_factory=list)  # when placing a live order failed

    def place(self) -> None:
        rng = random.Random(11)
        with SandboxControl(self.url, timeout=30) as shop:
            while not self.stop.is_set():
                spec = OrderSpec(lines=[LineSpec(sku=f"SKU-{rng.randrange(SKUS):05d}", quantity=1)])
                try:
                    order_id = shop.place_order(spec)["id"]
                except httpx.HTTPError:
                    # A sandbox busy serving a big backfill page can outlast the timeout; the live
                    # traffic goes on (counted per phase), as checkout would on Shopify.
                    self.failed_places.append(time.monotonic())
                    continue
                self.placed[order_id] = time.monotonic()
                self.stop.wait(60.0 / self.per_minute)

    def ingest(self) -> None:
        self.client = ShopifyClient(self.url, "shpat_sandbox", bulk_threshold=0)
        since = datetime.now(UTC) - timedelta(seconds=5)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                for order in self.client.iter_orders_updated_since(since - timedelta(seconds=30)):
                    self.seen.setdefault(order.id, time.monotonic())
                    since = max(since, order.updated_at)
            except ShopifyError:
                # What a live ingest run does when THROTTLED outlasts its retries: it fails, and the
                # next one tries again. Counted, not hidden.
                self.failed_reads.append(time.monotonic())
            self.stop.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))

    def latencies(self, start: float, end: float) -> list[float]:
        """Seen minus placed, for orders placed in [start, end) (unseen ones count to `end`)."""
        return [self.seen.get(oid, end) - at for oid, at in list(self.placed.items()) if start <= at < end]


def _phase(name: str, live: Live, backfill: Any, restore: float) -> dict[str, Any]:
    start = time.monotonic()
    live_points_before = live.client.stats.points_spent if live.client else 0.0
    live_throttled_before = live.client.stats.throttled if live.client else 0
    result = backfill()
    end = time.monotonic()
    time.sleep(live.poll_seconds * 2)  # let orders placed near the end be seen
    lat = live.latencies(start, end)
    out = {
        "phase": name,
        "elapsed_s": round(end - start, 1),
        "live_orders": len(lat),
        "live_p50_s": rounded(percentile(lat, 50), 2),
        "live_p95_s": rounded(percentile(lat, 95), 2),
        "live_max_s": round(max(lat), 2) if lat else None,
        "live_points": round((live.client.stats.points_spent if live.client else 0) - live_points_before),
        "live_throttled": (live.client.stats.throttled if live.client else 0) - live_throttled_before,
        "live_reads_given_up": sum(
            1 for at in live.failed_reads if start <= at < end + live.poll_seconds * 2
        ),
        "live_places_failed": sum(1 for at in live.failed_places if start <= at < end),
        **result,
    }
    if result.get("backfill_points"):
        out["backfill_share_of_restore"] = round(result["backfill_points"] / (end - start) / restore, 2)
    print(json.dumps(out), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--paginated-orders", type=int, default=10_000)
    parser.add_argument("--plan", default="plus", choices=sorted(PLANS))
    parser.add_argument("--live-per-minute", type=float, default=120)
    parser.add_argument("--poll-seconds", type=float, default=2.0)
    parser.add_argument("--baseline-seconds", type=float, default=45)
    parser.add_argument("--port", type=int, default=8795)
    parser.add_argument("--read", default="orders", choices=("orders", "finance"))
    parser.add_argument(
        "--refunded-share", type=float, default=0.05, help="finance: historic orders refunded"
    )
    args = parser.parse_args(argv)
    paginated = min(args.paginated_orders, args.orders)
    url = f"http://127.0.0.1:{args.port}"
    restore = PLANS[args.plan][1]
    now = time.time()
    base, step = now - HISTORY.total_seconds(), (HISTORY.total_seconds() - 3600) / args.orders
    print(
        f"seeding {args.orders} historic orders (plan {args.plan}, restore {restore:.0f}/s) ...", flush=True
    )
    seeded_at = time.monotonic()
    ready = multiprocessing.Event()
    child = multiprocessing.Process(target=_serve_sandbox, args=(args.port, args.plan, args.orders, base, step, ready),
                                    daemon=True)  # fmt: skip
    child.start()
    try:
        if not ready.wait(timeout=7200):
            raise TimeoutError("the sandbox did not finish seeding")
        print(f"seeded in {time.monotonic() - seeded_at:.0f} s; load average {_load()}", flush=True)
        if args.read == "finance":
            _refund_some(url, base, args.orders, args.refunded_share)
        live = Live(url, args.live_per_minute, args.poll_seconds)
        threads = [
            threading.Thread(target=live.place, daemon=True),
            threading.Thread(target=live.ingest, daemon=True),
        ]
        for thread in threads:
            thread.start()
        everything = (datetime.fromtimestamp(base - 1, UTC), datetime.fromtimestamp(now - 1800, UTC))
        newest = (datetime.fromtimestamp(base + (args.orders - paginated) * step - 0.5, UTC), everything[1])

        def idle() -> dict[str, Any]:
            time.sleep(args.baseline_seconds)
            return {}

        def read(window: tuple[datetime, datetime], bulk: bool) -> dict[str, Any]:
            with ShopifyClient(url, "shpat_sandbox", bulk_threshold=1 if bulk else 0) as client:
                client.bulk_poll_cap_seconds = 2.0
                count, failed = 0, None
                try:
                    reads = {"orders": client.iter_orders_created_between,
                             "finance": client.iter_orders_money_created_between}  # fmt: skip
                    for _ in reads[args.read](*window):
                        count += 1
                except ShopifyError as exc:  # a backfill run would fail here: say so and go on
                    failed = str(exc)[:160]
                stats = client.stats
                return {
                    "backfill_orders": count,
                    "backfill_failed": failed,
                    "backfill_mode": client.last_read_mode,
                    "backfill_points": round(stats.points_spent),
                    "backfill_points_per_order": round(stats.points_spent / max(1, count), 3),
                    "backfill_requests": stats.requests,
                    "backfill_throttled": stats.throttled,
                    "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                }

        base_row = _phase("baseline", live, idle, restore)
        paged_row = _phase("paginated", live, lambda: read(newest, False), restore)
        bulk_row = _phase("bulk", live, lambda: read(everything, True), restore)
        live.stop.set()
        for thread in threads:
            thread.join(timeout=60)
        _summary(args, base_row, paged_row, bulk_row, paginated, restore)
        return (
            0
            if bulk_row["backfill_orders"] == args.orders and paged_row["backfill_orders"] == paginated
            else 1
        )
    finally:
        child.kill()
        child.join(timeout=10)


def _refund_some(url: str, base: float, orders: int, share: float) -> None:
    """Refund one unit of every (1 / share)-th historic order, as staff would in the admin."""
    started = time.monotonic()
    every = max(1, round(1 / share)) if share > 0 else orders + 1
    with ShopifyClient(url, "shpat_sandbox") as admin:
        since = datetime.fromtimestamp(base - 1, UTC)
        ids = [o.id for o in admin.iter_order_changes_since(since)][::every]  # a point an order, not ~20
        for order_id in ids:
            refund_one_unit(admin, order_id, "CANCEL")
    print(f"refunded {len(ids)} historic orders in {time.monotonic() - started:.0f} s", flush=True)


def _ratio(value: float | None, baseline: float | None) -> float:
    """`value` as a multiple of `baseline`; NaN when either has no figure (no live orders in a phase)."""
    return value / baseline if value is not None and baseline else float("nan")


def _load() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def _summary(args: argparse.Namespace, base: dict[str, Any], paged: dict[str, Any], bulk: dict[str, Any],
             paginated: int, restore: float) -> None:  # fmt: skip
    scale = args.orders / paginated
    paged_points = paged["backfill_points"] * scale
    paged_elapsed = paged["elapsed_s"] * scale
    mark = "" if scale == 1 else f" (extrapolated ×{scale:g} from {paginated:,} orders)"
    print()
    print(
        f"{args.read} backfill of {args.orders:,} orders, plan {args.plan} (restore {restore:.0f} points/s); "
        f"load {_load()}"
    )
    print(
        f"  paginated: {paged_elapsed:,.0f} s, {paged_points:,.0f} points{mark};"
        f" {paged['backfill_points_per_order']} points/order; bucket floor {paged_points / restore:,.0f} s"
    )
    print(
        f"  bulk:      {bulk['elapsed_s']:,.0f} s, {bulk['backfill_points']:,} points"
        f" ({bulk['backfill_points'] / paged_points:.5f} of paginated); sandbox export speed, not Shopify's"
    )
    for row in (paged, bulk):
        if row.get("backfill_failed"):
            print(
                f"  {row['phase']} backfill FAILED after {row['backfill_orders']:,} orders: {row['backfill_failed']}"
            )
    for row in (paged, bulk):
        ratio_50 = _ratio(row["live_p50_s"], base["live_p50_s"])
        ratio_95 = _ratio(row["live_p95_s"], base["live_p95_s"])
        print(
            f"  live ingest during {row['phase']:9s}: p50 {row['live_p50_s']} s ({ratio_50:.2f}× baseline), "
            f"p95 {row['live_p95_s']} s ({ratio_95:.2f}× baseline), max {row['live_max_s']} s, "
            f"THROTTLED {row['live_throttled']}, live reads given up {row['live_reads_given_up']}"
        )
    print(
        f"  live ingest baseline: p50 {base['live_p50_s']} s, p95 {base['live_p95_s']} s ({base['live_orders']} orders)"
    )
    print("JSON " + json.dumps({"read": args.read, "baseline": base, "paginated": paged, "bulk": bulk, "paginated_scale": scale,
                                "live_p95_ratio_paginated": round(_ratio(paged["live_p95_s"], base["live_p95_s"]), 2),
                                "live_p95_ratio_bulk": round(_ratio(bulk["live_p95_s"], base["live_p95_s"]), 2)}))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
