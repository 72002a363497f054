"""Despatches flow at a peak despatch rate, with the product run as in production.

Starts on 127.0.0.1 the Shopify sandbox (Plus plan by default), the Peoplevox sandbox (its
warehouse clock in real time; its real-world limiter, 15 requests per 15 s, unless told
otherwise) and the receiver as child processes; registers the Peoplevox callbacks exactly as
`sync-pipeline subscribe` does (Despatched status, TrackingNumberReceived). Orders already in
the warehouse are prepared with the orders flow's own code (ingest + release, in this process,
with the Peoplevox limiter opened for the preparation only). Then runs Dagster with `dg dev`
(webserver + daemon: sensors, run queue, run launcher): the benchmark never launches a run.

The floor then despatches at a peak rate through the Peoplevox control API (default 1,500
packages a minute for 5 minutes): 20 % of despatches are multi-package (2-3 packages), 5 % are
short picked (the missing unit ships in a later despatch a minute on). It waits until every
package is fulfilled in Shopify (or the drain timeout), stops everything and prints a table and
a JSON line:

    .venv/bin/python benchmarks/despatch_flow.py                                        # full
    .venv/bin/python benchmarks/despatch_flow.py --minutes 1 --packages-per-minute 300  # smoke

Latency is despatch (the control API call returning) → the ledger recording Shopify's answer;
Shopify figures come from the sandbox's own counters, Peoplevox requests from its counters,
runs from the Dagster instance, duplicates and emails from Shopify's state.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.rehearsal.stack import (
    BIN,
    CALLBACK_TOKEN,
    IN_FLIGHT,
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
from sync_pipeline.rehearsal.stock_watch import UK
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.shopify.config import PLANS
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
    points_by_operation,
)
from sync_pipeline.subscribe import wanted_subscriptions

SKUS = [f"BENCH-{i:03d}" for i in range(40)]
MULTI_SHARE, SHORT_SHARE = 0.20, 0.05
PACKAGES_PER_DESPATCH = 1 + MULTI_SHARE * 1.5  # multi-package despatches have 2 or 3 packages


@dataclass
class Despatched:
    number: str  # package number
    order_id: str
    at: datetime  # naive UTC, when the control API answered


@dataclass
class Floor:
    packages: list[Despatched] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def prepare_orders(
    ports: Ports, work: Workdir, count: int, rng: random.Random
) -> list[tuple[str, str, list[str]]]:
    """`count` orders in Shopify and in Peoplevox, through the orders flow's own code."""
    shop = SandboxControl(ports.url("shopify"), timeout=120.0)
    for sku in SKUS:
        shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="12.00")]))
    pvx = PeoplevoxControl(ports.url("peoplevox"), timeout=120.0)
    pvx.seed_items([(sku, f"50{i:011d}", sku) for i, sku in enumerate(SKUS)])
    pvx.set_stock([(sku, "PrimarySite", 10_000_000) for sku in SKUS])
    placed = []
    for _ in range(count):
        lines = rng.sample(SKUS, rng.choice((1, 2, 2, 3)))
        spec = OrderSpec(
            lines=[LineSpec(sku=s, quantity=rng.choice((1, 1, 2))) for s in lines], shipping_address=UK
        )
        order = shop.place_order(spec)
        units = [li["sku"] for li in order["line_items"] for _ in range(li["quantity"])]
        placed.append((order["id"], f"SHP-{order['legacy_id']}", units))
    shop.close()
    rules = load_business_rules(work.config)
    ledger = Ledger(work.ledger)
    with (
        ShopifyClient(ports.url("shopify"), SHOPIFY_TOKEN) as shopify,
        PeoplevoxClient(
            ports.url("peoplevox"), "sandbox", "integration", PEOPLEVOX_PASSWORD, 10_000, 1.0
        ) as client,
    ):
        source = ShopifyOrdersSource(shopify)
        ingest(
            source,
            ledger,
            rules,
            "bench-prepare",
            datetime.now(UTC),
            max_changed_orders=10**9,
            max_seconds=3600,
        )
        while True:
            report = release(
                source, PeoplevoxWarehouse(client), ledger, rules, "bench-prepare", datetime.now(UTC)
            )
            if not report.injected:
                break
    in_pvx = {o.number for o in pvx.state().orders}
    pvx.close()
    return [p for p in placed if p[1] in in_pvx]


def run_floor(
    pvx_url: str, orders: list[tuple[str, str, list[str]]], per_minute: float, minutes: float, seed: int
) -> Floor:
    """Despatch at evenly spaced instants until `per_minute × minutes` packages have left."""
    rng = random.Random(seed)
    target = round(per_minute * minutes)
    floor = Floor()
    pvx = PeoplevoxControl(pvx_url, timeout=60.0)
    started = time.monotonic()
    interval = 60.0 / per_minute * PACKAGES_PER_DESPATCH
    shorts: list[tuple[float, str, str, str]] = []  # (due, order id, number, missing item)
    queue = list(orders)
    step = 0
    while len(floor.packages) < target and (queue or shorts):
        due = started + step * interval
        step += 1
        time.sleep(max(0.0, due - time.monotonic()))
        if time.monotonic() - started > minutes * 60 + 120:
            floor.errors.append("the floor could not keep the pace; stopped")
            break
        if shorts and shorts[0][0] <= time.monotonic():
            _, order_id, number, item = shorts.pop(0)
            _despatch(pvx, floor, order_id, number, [{item: 1}])
            continue
        if not queue:
            continue
        order_id, number, units = queue.pop()
        units = list(units)
        if len(units) > 1 and rng.random() < SHORT_SHARE:
            missing = units.pop(rng.randrange(len(units)))
            shorts.append((time.monotonic() + 60.0, order_id, number, missing))
        if len(units) > 1 and rng.random() < MULTI_SHARE / (1 - SHORT_SHARE):
            parts = min(len(units), rng.choice((2, 3)))
            packages = [Counter(units[i::parts]) for i in range(parts)]
        else:
            packages = [Counter(units)]
        _despatch(pvx, floor, order_id, number, [dict(p) for p in packages])
    floor.seconds = time.monotonic() - started
    pvx.close()
    return floor


def _despatch(
    pvx: PeoplevoxControl, floor: Floor, order_id: str, number: str, packages: list[dict[str, int]]
) -> None:
    try:
        made = pvx.despatch(number, packages)
    except Exception as error:
        floor.errors.append(f"{number}: {error}")
        return
    at = datetime.now(UTC).replace(tzinfo=None)
    floor.packages.extend(Despatched(p["number"], order_id, at) for p in made["packages"])


def wait_until_fulfilled(ledger_path: Path, numbers: set[str], stack: Stack, timeout: float) -> bool:
    ledger = Ledger(ledger_path, busy_timeout=120)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        with ledger.transaction() as con:
            done = {
                r[0]
                for r in con.execute(
                    "SELECT package_number FROM shopify_fulfilments WHERE state = 'created'"
                ).fetchall()
            }
        left = numbers - done
        if not left:
            return True
        log(f"waiting: {len(left)} package(s) not yet fulfilled in Shopify")
        time.sleep(10.0)
    return False


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--packages-per-minute", type=float, default=1500.0)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--pvx-requests-per-window", type=int, default=15)
    parser.add_argument("--pvx-window-seconds", type=float, default=15.0)
    parser.add_argument(
        "--shopify-plan", choices=["standard", "advanced", "plus", "enterprise"], default="plus"
    )
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds after the last despatch")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--base-port", type=int, default=None, help="use 4 ports from here (default: free ones)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, ledger)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    if args.packages_per_minute <= 0 or args.minutes <= 0:
        parser.error("--packages-per-minute and --minutes must be positive")
    work = Workdir(Path(tempfile.mkdtemp(prefix="despatch-flow-bench-")))
    work.prepare(hold_seconds=0)
    ports = Ports.block(args.base_port)
    env = environment(work, ports, args.pvx_requests_per_window, args.pvx_window_seconds)
    stack = Stack(work, env)
    pids: list[int] = []
    result: dict[str, Any] = {}
    log(f"work dir {work.root}")
    graphql = DagsterGraphQL(ports.url("dagster"))
    try:
        cli = str(BIN / "sync-pipeline")
        stack.start(
            "shopify", [cli, "sandbox", "shopify", "--port", str(ports.shopify), "--plan", args.shopify_plan]
        )
        stack.start(
            "peoplevox",
            [cli, "sandbox", "peoplevox", "--port", str(ports.peoplevox), "--requests-per-window", "10000",
             "--window-seconds", "1", "--time-scale", "1", "--short-pick-rate", "0", "--late-tracking-rate", "0"],
        )  # fmt: skip
        stack.start("receiver", [cli, "receiver", "--port", str(ports.receiver)])
        wait_until_up(stack, {n: f"{ports.url(n)}/_sandbox/state" for n in ("shopify", "peoplevox")}
                      | {"receiver": f"{ports.url('receiver')}/healthz"})  # fmt: skip
        with PeoplevoxClient(
            ports.url("peoplevox"), "sandbox", "integration", PEOPLEVOX_PASSWORD, 10_000, 1.0
        ) as c:
            for wanted in wanted_subscriptions(ports.url("receiver"), CALLBACK_TOKEN):
                if wanted.system == "peoplevox":
                    c.subscribe_event(wanted.topic, wanted.url)
        orders_needed = round(args.packages_per_minute * args.minutes / PACKAGES_PER_DESPATCH * 1.1) + 10
        log(f"preparing {orders_needed} orders in the warehouse with the orders flow")
        rng = random.Random(args.seed)
        orders = prepare_orders(ports, work, orders_needed, rng)
        pvx = PeoplevoxControl(ports.url("peoplevox"), timeout=120.0)
        pvx.configure(
            requests_per_window=args.pvx_requests_per_window, window_seconds=args.pvx_window_seconds
        )
        log(
            f"{len(orders)} orders in Peoplevox; its limiter back to {args.pvx_requests_per_window} / {args.pvx_window_seconds:g} s"
        )

        stack.start("dagster", [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(ports.dagster)])
        wait_until_up(stack, {"dagster": f"{ports.url('dagster')}/server_info"}, timeout=180)
        graphql.wait_for_first_run("despatches_job", stack, timeout=240)
        graphql.wait_until_idle("despatches_job", timeout=300)
        # The orders flow's first ingest re-reads the prepared orders (thousands): a start-up cost of
        # the benchmark, not of a store that runs all day, so it finishes before the clock starts.
        log("waiting for the orders flow's start-up reads to finish (not measured)")
        if not graphql.wait_until_quiet(("orders_ingest_job", "orders_release_job"), quiet=30, timeout=1200):
            log("the orders flow did not go quiet within 20 min; measuring anyway")
        log(f"Dagster is up (http://127.0.0.1:{ports.dagster}); sensors are launching runs")
        pids = [c.process.pid for c in stack.children]
        shop = SandboxControl(ports.url("shopify"), timeout=120.0)
        shop_before, pvx_before = dict(shop.state()["stats"]), pvx.state().counters
        started_at = datetime.now(UTC).replace(tzinfo=None)
        load_before = os.getloadavg()
        log(f"despatching {args.packages_per_minute:g} packages/minute for {args.minutes:g} minute(s)")
        floor = run_floor(
            ports.url("peoplevox"), orders, args.packages_per_minute, args.minutes, args.seed + 1
        )
        log(
            f"floor done: {len(floor.packages)} packages in {floor.seconds:.0f}s, {len(floor.errors)} error(s)"
        )
        # With --keep, `despatch_timeline.py` splits each package's time from these instants.
        (work.root / "floor.csv").write_text(
            "package_number,order_id,despatched_at\n"
            + "".join(f"{p.number},{p.order_id},{p.at.isoformat()}\n" for p in floor.packages),
            encoding="utf-8",
        )
        drained = wait_until_fulfilled(
            work.ledger, {p.number for p in floor.packages}, stack, args.drain_timeout
        )
        graphql.wait_until_idle(None, timeout=180)
        interrupted = {r["runId"] for r in graphql.runs(None, IN_FLIGHT)}
        elapsed = (datetime.now(UTC).replace(tzinfo=None) - started_at).total_seconds()
        load = (load_before, os.getloadavg())
        stack.stop(("dagster",))
        shop_after, pvx_after = shop.state(), pvx.state()
        emails = shop.emails()
        shop.close()
        pvx.close()
        stack.stop()
        result = report(args, floor, drained, work, shop_before, shop_after, pvx_before, pvx_after, emails,
                        interrupted, elapsed, load)  # fmt: skip
    finally:
        graphql.close()
        stack.stop()
        print(f"leftover process groups: {stack.leftovers(pids)}", flush=True)
        if args.keep:
            print(f"kept {work.root}", flush=True)
        else:
            shutil.rmtree(work.root, ignore_errors=True)
    ok = (
        result.get("lost") == 0
        and result.get("duplicate_fulfilments") == 0
        and result.get("duplicate_emails") == 0
    )
    return 0 if ok else 1


def report(
    args,
    floor,
    drained,
    work,
    shop_before,
    shop_after,
    pvx_before,
    pvx_after,
    emails,
    interrupted,
    elapsed,
    load,
):  # type: ignore[no-untyped-def]
    ledger = Ledger(work.ledger)
    with ledger.transaction() as con:
        created = dict(
            con.execute(
                "SELECT package_number, created_at FROM shopify_fulfilments WHERE state = 'created'"
            ).fetchall()
        )
        known = {r[0] for r in con.execute("SELECT package_number FROM despatch_packages").fetchall()}
    latencies = [(created[p.number] - p.at).total_seconds() for p in floor.packages if p.number in created]
    unfinished = sum(1 for p in floor.packages if p.number not in created)
    # Lost: never read into the ledger, or (once the flow drained) never fulfilled. Packages still
    # open when the drain timeout ends are `unfinished`, not lost: the flow is still working on them.
    lost = unfinished if drained else sum(1 for p in floor.packages if p.number not in known)
    despatched_orders = {p.order_id for p in floor.packages}
    packages_per_order = Counter(p.order_id for p in floor.packages)
    fulfilments_per_order = {
        o["id"]: len(o["fulfillments"]) for o in shop_after["orders"] if o["id"] in despatched_orders
    }
    duplicates = sum(max(0, fulfilments_per_order.get(o, 0) - n) for o, n in packages_per_order.items())
    per_fulfilment = Counter(e["fulfillment"] for e in emails if e["kind"] == "shipping_confirmation")
    duplicate_emails = sum(n - 1 for n in per_fulfilment.values() if n > 1) + sum(
        max(0, Counter(e["order"] for e in emails)[o] - n) for o, n in packages_per_order.items()
    )
    stats = {
        k: shop_after["stats"].get(k, 0) - shop_before.get(k, 0)
        for k in ("requests", "throttled", "points_spent")
    }
    ops_before = points_by_operation(shop_before)
    by_operation = {
        op: round((v - ops_before.get(op, 0)) / max(len(floor.packages), 1), 1)
        for op, v in points_by_operation(shop_after["stats"]).items()
        if v > ops_before.get(op, 0)
    }
    pvx_requests = sum(pvx_after.counters.requests.values()) - sum(pvx_before.requests.values())
    ceiling = args.pvx_requests_per_window / args.pvx_window_seconds * elapsed
    runs = runs_by_job(work.dagster_home)
    packages = len(floor.packages)
    fulfilled = len(latencies)
    # The API's limit, in this run's own currency: the plan's restore rate over the points the
    # whole product (fulfil, its reads, the orders flow's re-reads) spent per fulfilment.
    restore = PLANS[args.shopify_plan][1]
    points_per_fulfilment = stats["points_spent"] / max(fulfilled, 1)
    shopify_ceiling = restore / max(points_per_fulfilment, 1e-9) * 60
    first_at = min((p.at for p in floor.packages), default=None)
    last_made = max((created[p.number] for p in floor.packages if p.number in created), default=None)
    busy = (last_made - first_at).total_seconds() if first_at and last_made else 0.0
    sustained = fulfilled / busy * 60 if busy > 0 else None
    figures = {
        "packages": packages,
        "packages_per_minute": round(packages / max(floor.seconds, 1e-9) * 60, 1),
        "fulfilled": fulfilled,
        "p50_seconds": percentile(latencies, 50),
        "p95_seconds": percentile(latencies, 95),
        "max_seconds": max(latencies) if latencies else None,
        "shopify_points_per_fulfilment": round(points_per_fulfilment, 1),
        "shopify_restore_points_per_second": restore,
        "shopify_ceiling_packages_per_minute": round(shopify_ceiling),
        "offered_share_of_shopify_ceiling": round(
            packages / max(floor.seconds, 1e-9) * 60 / shopify_ceiling, 3
        ),
        "fulfilled_per_minute_sustained": round(sustained, 1) if sustained else None,
        "sustained_share_of_shopify_ceiling": round(sustained / shopify_ceiling, 3) if sustained else None,
        "shopify_points_share_of_restore": round(stats["points_spent"] / (restore * max(elapsed, 1e-9)), 3),
        "load_average_1m": [round(load[0][0], 1), round(load[1][0], 1)],
        "shopify_points_per_package_by_operation": by_operation,
        "shopify_throttled_share": round(stats["throttled"] / max(stats["requests"], 1), 4),
        "shopify_requests": stats["requests"],
        "pvx_requests_per_100_packages": round(pvx_requests / max(packages, 1) * 100, 2),
        "pvx_requests": pvx_requests,
        "pvx_ceiling_in_period": round(ceiling),
        "pvx_share_of_ceiling": round(pvx_requests / max(ceiling, 1), 3),
        "runs": runs,
        "despatch_runs_per_1000_packages": round(runs.get("despatches_job", 0) / max(packages, 1) * 1000, 1),
        "failed_runs": runs.get("failed", 0),
        "interrupted_runs": len(interrupted),
        "duplicate_fulfilments": duplicates,
        "duplicate_emails": duplicate_emails,
        "lost": lost,
        "unfinished": unfinished,
        "drained": drained,
        "floor_errors": len(floor.errors),
        "shopify_plan": args.shopify_plan,
        "pvx_limit": f"{args.pvx_requests_per_window}/{args.pvx_window_seconds:g}s",
    }

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}s"

    print(
        f"""
despatches flow: {packages} packages at {figures["packages_per_minute"]:,.0f}/min ({args.shopify_plan}, Peoplevox {figures["pvx_limit"]})
  despatch → fulfilled in Shopify   p50 {fmt(figures["p50_seconds"])}  p95 {fmt(figures["p95_seconds"])}  max {fmt(figures["max_seconds"])}   (goal p95 ≤ 60 s)
  Shopify                           {figures["shopify_points_per_fulfilment"]} points per fulfilment; THROTTLED {figures["shopify_throttled_share"]:.2%} of {stats["requests"]} requests
  Shopify points per package         {json.dumps(by_operation)}
  Shopify's limit                   {restore:g} points/s restore → {shopify_ceiling:,.0f} fulfilments/min at that spend; offered {figures["offered_share_of_shopify_ceiling"]:.1%} of it, sustained {_rate(sustained)} = {_share(figures["sustained_share_of_shopify_ceiling"])} of it; points spent = {figures["shopify_points_share_of_restore"]:.1%} of the restore over {elapsed:.0f}s
  machine                           load average (1 min) {load[0][0]:.1f} at the start, {load[1][0]:.1f} at the end, {os.cpu_count()} CPUs
  Peoplevox                         {figures["pvx_requests_per_100_packages"]} requests per 100 packages; {pvx_requests} requests = {figures["pvx_share_of_ceiling"]:.0%} of the limiter's ceiling ({figures["pvx_ceiling_in_period"]}) over {elapsed:.0f}s
  runs                              {figures["despatch_runs_per_1000_packages"]} despatches runs per 1,000 packages; {json.dumps(runs)}
  exactly once                      duplicate fulfilments {duplicates}, duplicate emails {duplicate_emails}, lost {lost}, unfinished at the drain timeout {unfinished}, floor errors {len(floor.errors)}
""",
        flush=True,
    )
    print("JSON " + json.dumps(figures, default=str), flush=True)
    return figures


def _rate(per_minute: float | None) -> str:
    return "n/a" if per_minute is None else f"{per_minute:,.0f}/min"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


if __name__ == "__main__":
    sys.exit(main())
