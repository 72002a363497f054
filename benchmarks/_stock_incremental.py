"""Part (b) of benchmarks/stock_flow.py: incremental stock pushes through the real daemon.

The Peoplevox sandbox runs in this process (its floor in real time, its real limiter 15 / 15 s),
so goods-in happen directly on the warehouse (each raises AvailabilityChanges, delivered over HTTP
to the receiver like any callback) and the oversell sampler reads the warehouse atomically. The
Shopify sandbox, the receiver and `dg dev` are child processes; the product's runs reach both
sandboxes over HTTP. Nothing here launches a Dagster run: the availability sensor does.

Latency of a change: the goods-in SKUs are bought by nobody, so their Peoplevox available only
rises; a change is seen once Shopify shows at least its target (available − the SKU's buffer).
Shoppers buy a separate set of SKUs (the orders flow sends their orders on), so the oversell
invariant is exercised where orders are in flight.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _stock_stages import describe, stages

from sync_pipeline.lib.ledger import Ledger, stock_pushes
from sync_pipeline.rehearsal.report import rounded
from sync_pipeline.rehearsal.stack import (
    BIN,
    CALLBACK_TOKEN,
    PEOPLEVOX_PASSWORD,
    SHOPIFY_TOKEN,
    DagsterGraphQL,
    Ports,
    Stack,
    Workdir,
    environment,
    log,
    percentile,
    runs_by_job,
    wait_until_up,
)
from sync_pipeline.rehearsal.stock_watch import SITE, Shared, baseline, goods_in, poll, sample, seed, shoppers
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.subscribe import wanted_subscriptions

PVX_LIMIT = (15, 15.0)


def run_incremental(args: argparse.Namespace) -> dict[str, Any]:
    work = Workdir(Path(tempfile.mkdtemp(prefix="stock-incremental-bench-")))
    work.prepare(hold_seconds=10)
    ports = Ports.block(args.base_port)
    pvx_app = create_pvx_app(PeoplevoxSandboxConfig(
        requests_per_window=10_000, window_seconds=1.0, time_scale=1.0, allocation_delay=60.0,
    ))  # fmt: skip
    pvx_server = BackgroundServer(pvx_app).start()
    pvx_state = pvx_app.state.sandbox
    env = environment(work, ports, *PVX_LIMIT)
    env["PEOPLEVOX_BASE_URL"] = pvx_server.url
    stack = Stack(work, env)
    shared = Shared()
    graphql = DagsterGraphQL(ports.url("dagster"))
    figures: dict[str, Any] = {}
    log(f"(b) work dir {work.root}")
    try:
        cli = str(BIN / "sync-pipeline")
        stack.start(
            "shopify", [cli, "sandbox", "shopify", "--port", str(ports.shopify), "--plan", args.shopify_plan]
        )
        stack.start("receiver", [cli, "receiver", "--port", str(ports.receiver)])
        wait_until_up(stack, {"shopify": f"{ports.url('shopify')}/_sandbox/state",
                              "receiver": f"{ports.url('receiver')}/healthz"})  # fmt: skip
        skus = [f"STK-{i:05d}" for i in range(args.incremental_skus)]
        sold = skus[: max(10, len(skus) // 20)]  # shoppers buy these; goods-in go to the rest
        restocked = skus[len(sold) :]
        seed(ports.url("shopify"), pvx_state.warehouse, skus)
        buffers = baseline(ports.url("shopify"), pvx_server.url, work.ledger, work.config, SHOPIFY_TOKEN,
                           PEOPLEVOX_PASSWORD, wanted_subscriptions(ports.url("receiver"), CALLBACK_TOKEN))  # fmt: skip
        pvx_state.limiter.configure(*PVX_LIMIT)
        log(
            f"{len(skus)} SKUs seeded and published; Peoplevox's limiter at {PVX_LIMIT[0]} / {PVX_LIMIT[1]:g} s"
        )

        stack.start("dagster", [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(ports.dagster)])
        wait_until_up(stack, {"dagster": f"{ports.url('dagster')}/server_info"}, timeout=240)
        with shared.lock:  # one change to see the sensor launch a run
            pvx_state.warehouse.goods_in(restocked[0], SITE, 1, "warm-up")
        graphql.wait_for_first_run("stock_changes_job", stack, timeout=300)
        graphql.wait_until_idle("stock_changes_job", timeout=300)
        shop = SandboxControl(ports.url("shopify"), timeout=120.0)
        shop_before = dict(shop.state()["stats"])
        with Ledger(work.ledger).transaction() as con:
            pushes_before = stock_pushes.state_counts(con)
        log(f"Dagster up (http://127.0.0.1:{ports.dagster}); {args.changes_per_second:g} changes/s for "
            f"{args.minutes:g} min, {args.orders_per_minute:g} orders/min")  # fmt: skip
        started = time.monotonic()
        threads = [
            threading.Thread(target=poll, args=(ports.url("shopify"), shared, args.poll_seconds), daemon=True),
            threading.Thread(target=sample, args=(pvx_state.warehouse, ports.url("shopify"), shared, 5.0), daemon=True),
            threading.Thread(target=shoppers, args=(ports.url("shopify"), shared, sold, args.orders_per_minute,
                                                    args.minutes * 60, args.seed + 1), daemon=True),
        ]  # fmt: skip
        for t in threads:
            t.start()
        goods_in(pvx_state.warehouse, shared, restocked, buffers, args.changes_per_second, args.minutes * 60,
                 args.seed, log)  # fmt: skip
        period = time.monotonic() - started
        deadline = time.monotonic() + args.drain_timeout
        while time.monotonic() < deadline:
            stack.check_alive()
            left = shared.left()
            if not left:
                break
            log(f"waiting: {left} change(s) not yet in Shopify")
            time.sleep(5.0)
        shared.stop.set()
        for t in threads:
            t.join(timeout=60)
        graphql.wait_until_idle(None, timeout=180)
        stack.stop(("dagster",))
        shop_after = dict(shop.state()["stats"])
        shop.close()
        with Ledger(work.ledger).transaction() as con:
            pushes_after = stock_pushes.state_counts(con)
        figures = _report(args, shared, period, shop_before, shop_after, pushes_before, pushes_after, work)
    finally:
        shared.stop.set()
        graphql.close()
        stack.stop()
        pvx_server.stop()
        if args.keep:
            log(f"kept {work.root}")
        else:
            shutil.rmtree(work.root, ignore_errors=True)
    return figures


def _report(args, shared, period, shop_before, shop_after, pushes_before, pushes_after, work):  # type: ignore[no-untyped-def]
    latencies, unseen = shared.latencies(), shared.unseen()
    stats = {
        k: shop_after.get(k, 0) - shop_before.get(k, 0) for k in ("requests", "throttled", "points_spent")
    }
    applied = pushes_after.get("applied", 0) - pushes_before.get("applied", 0)
    runs = runs_by_job(work.dagster_home)
    minutes = period / 60
    figures = {
        "changes": len(shared.changes),
        "changes_per_second": round(len(shared.changes) / max(period, 1e-9), 1),
        "p50_seconds": rounded(percentile(latencies, 50)),
        "p95_seconds": rounded(percentile(latencies, 95)),
        "max_seconds": rounded(max(latencies) if latencies else None),
        "poll_seconds": args.poll_seconds,
        "unseen_changes": unseen,
        "throttled_pct": round(100 * stats["throttled"] / max(stats["requests"], 1), 2),
        "shopify_requests": stats["requests"],
        "shopify_points_per_update": round(stats["points_spent"] / max(applied, 1), 2),
        "levels_updated": applied,
        "stock_runs_per_minute": round(runs.get("stock_changes_job", 0) / max(minutes, 1e-9), 1),
        "runs": runs,
        "orders_placed": len(shared.orders),
        "oversell_samples": shared.samples,
        "oversell_violations": len(shared.violations),
        "errors": len(shared.errors),
        "shopify_plan": args.shopify_plan,
        "stages": stages(work.dagster_home, shared.changes),
    }
    print(
        f"""
stock flow (b): {figures["changes"]} availability changes at {figures["changes_per_second"]}/s, {len(shared.orders)} orders
  change in Peoplevox → Shopify shows it   p50 {figures["p50_seconds"]}s  p95 {figures["p95_seconds"]}s  max {figures["max_seconds"]}s  (goal p95 ≤ 30 s; Shopify polled every {args.poll_seconds:g}s); not seen {unseen}
  Shopify                                  THROTTLED {figures["throttled_pct"]} % of {stats["requests"]} requests (goal ≤ 1 %); {figures["shopify_points_per_update"]} points per level update ({applied} updates)
  runs                                     {figures["stock_runs_per_minute"]} stock runs per minute; {runs}
  oversell invariant                       {len(shared.violations)} violation(s) in {shared.samples} samples{": " + str(shared.violations[:5]) if shared.violations else ""}
{describe(figures["stages"])}
""",
        flush=True,
    )
    return figures
