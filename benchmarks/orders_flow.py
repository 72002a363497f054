"""Orders flow under a flash sale, with the product run as in production.

Starts on 127.0.0.1 the Shopify sandbox (default Plus plan: 20,000-point bucket, 1,000 points/s;
a store selling 1,500 orders a minute is a Plus store, and reading a full order costs ~15-19
points, so the Standard plan's 100 points/s caps any integration near 350 orders/min), the
Peoplevox sandbox (its real-world limiter: 15 requests per 15 s unless told otherwise) and the
receiver as child processes; registers the Shopify webhooks and a Peoplevox
SalesOrderStatusChanges callback; seeds ~200 SKUs (Peoplevox item types with stock in
PrimarySite and Wholesale, the config bundles of data/config/bundles.yaml). Then runs Dagster
with `dg dev` (webserver + daemon: sensors, run queue, run launcher), DAGSTER_HOME and
SYNC_DATA_DIR in a temporary directory, and a copy of data/config with a short hold window.
The benchmark never launches a run: the sensors do.

A flash sale is placed through the Shopify control API, paced evenly (default 1,500 orders a
minute for 5 minutes; a realistic mix of single and multi-line orders, config and native
bundles, B2B customers, hostile and unicode addresses; every order paid, shippable and mapped).
It waits until every order is in Peoplevox (or the drain timeout), stops everything it started
and prints one table plus a JSON line:

    .venv/bin/python benchmarks/orders_flow.py                       # full: ~12-20 minutes
    .venv/bin/python benchmarks/orders_flow.py --minutes 1 --orders-per-minute 300   # smoke

Latencies come from the ledger (read after Dagster is stopped), request counts from the
sandboxes' own counters (deltas from the start of the sale), runs from the Dagster instance.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.peoplevox.callbacks import SALES_ORDER_STATUS
from sync_pipeline.rehearsal.report import spread
from sync_pipeline.rehearsal.sale import Placed, Sale, run_sale
from sync_pipeline.rehearsal.stack import (
    BIN,
    CALLBACK_TOKEN,
    IN_FLIGHT,
    PEOPLEVOX_PASSWORD,
    DagsterGraphQL,
    Ports,
    Stack,
    Workdir,
    environment,
    log,
    wait_until_up,
)
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl, SandboxSnapshot
from sync_pipeline.sandbox.shopify.control import SandboxControl, StockSpec
from sync_pipeline.sandbox.traffic import seed_catalogue
from sync_pipeline.subscribe import wanted_subscriptions

WEBHOOK_TOPICS = ("orders/paid", "orders/updated", "orders/edited", "orders/cancelled")
JOBS = ("orders_ingest_job", "orders_release_job", "orders_status_job", "catalogue_job")


# -- waiting for the warehouse ------------------------------------------------------------------


def wait_for_warehouse(
    pvx: PeoplevoxControl, expected: set[str], stack: Stack, timeout: float, poll_seconds: float = 15.0
) -> tuple[bool, float]:
    """Poll the Peoplevox sandbox until every expected sales order is there; returns (all, when)."""
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        snapshot = pvx.state()
        present = expected & {o.number for o in snapshot.orders}
        counters = snapshot.counters
        log(
            f"drain: {len(present)}/{len(expected)} in Peoplevox; requests {sum(counters.requests.values())},"
            f" refused by limiter {counters.limiter_refused}"
        )
        if len(present) == len(expected):
            return True, time.monotonic()
        if time.monotonic() > deadline:
            return False, time.monotonic()
        time.sleep(poll_seconds)


# -- figures ------------------------------------------------------------------------------------


def counter_delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))}


def ledger_figures(ledger_path: Path, placed: list[Placed], hold: int) -> dict[str, Any]:
    """Latency and state from the ledger (read after Dagster is stopped: no writer left)."""
    ledger = Ledger(ledger_path)
    with ledger.transaction() as con:
        rows = con.execute(
            """
            SELECT o.sales_order_number, o.state, o.shopify_created_at, o.paid_seen_at,
                   o.release_due_at, i.state, i.first_attempt_at, i.confirmed_at, i.attempts,
                   o.shopify_order_id, i.items, o.first_seen_at
            FROM orders o
            LEFT JOIN pvx_injections i ON i.shopify_order_id = o.shopify_order_id
            """
        ).fetchall()
        exceptions = dict(
            con.execute(
                "SELECT kind, count(*) FROM exceptions WHERE status = 'open' GROUP BY kind"
            ).fetchall()
        )
    by_number = {f"SHP-{r[9].rsplit('/', 1)[-1]}": r for r in rows}
    injections_per_order = Counter(r[9] for r in rows if r[5] is not None)
    latency, from_placed, ingest_delay, release_wait, inject_time = [], [], [], [], []
    created, confirmed_times = [], []
    states: Counter[str] = Counter()
    items: dict[str, list[dict[str, Any]]] = {}
    for p in placed:
        row = by_number.get(p.number)
        if row is None:
            states["not in ledger"] += 1
            continue
        _, state, created_at, paid_seen, due, inj_state, first_attempt, confirmed, _, _, inj_items, seen = row
        states[f"{state}/{inj_state or '-'}"] += 1
        if created_at:
            created.append(created_at)
        if inj_items:
            items[p.number] = json.loads(inj_items) if isinstance(inj_items, str) else inj_items
        if confirmed is None or inj_state != "accepted":
            continue
        confirmed_times.append(confirmed)
        if paid_seen:
            latency.append((confirmed - paid_seen).total_seconds() - hold)
            ingest_delay.append((seen - paid_seen).total_seconds())
        from_placed.append((confirmed - p.placed_at).total_seconds() - hold)
        if due and first_attempt:
            release_wait.append((first_attempt - due).total_seconds())
        if first_attempt:
            inject_time.append((confirmed - first_attempt).total_seconds())
    return {
        "latency": latency,
        "from_placed": from_placed,
        "ingest_delay": ingest_delay,
        "release_wait": release_wait,
        "inject_time": inject_time,
        "first_created": min(created) if created else None,
        "last_confirmed": max(confirmed_times) if confirmed_times else None,
        "confirmed": len(confirmed_times),
        "states": dict(states),
        "open_exceptions": exceptions,
        "multi_injection_orders": sum(1 for n in injections_per_order.values() if n > 1),
        "items": items,
    }


def run_figures(dagster_home: Path, interrupted: set[str]) -> dict[str, dict[str, Any]]:
    """Runs by job from the Dagster instance (SQLite storage under DAGSTER_HOME)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    figures: dict[str, dict[str, Any]] = {}
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            job = figures.setdefault(
                run.job_name, {"launched": 0, "statuses": Counter(), "durations": [], "queued": []}
            )
            job["launched"] += 1
            status = run.status.value
            if run.run_id in interrupted and status == "FAILURE":
                status = "STOPPED_BY_BENCHMARK"  # in flight when Dagster was stopped
            job["statuses"][status] += 1
            if record.start_time and record.end_time:
                job["durations"].append(record.end_time - record.start_time)
            if record.start_time:
                job["queued"].append(record.start_time - record.create_timestamp.timestamp())
    return figures


def duplicate_figures(
    snapshot: SandboxSnapshot, expected: dict[str, Placed], items: dict[str, list[dict[str, Any]]]
) -> dict[str, int]:
    numbers = Counter(o.number for o in snapshot.orders)
    refs = Counter(
        o.fields.get("CustomerPurchaseOrderReferenceNumber") for o in snapshot.orders if o.number in expected
    )
    mismatched = 0
    for order in snapshot.orders:
        if order.number not in items:
            continue
        want: Counter[str] = Counter()
        for item in items[order.number]:
            want[item["ItemCode"]] += int(item["QuantityOrdered"])
        have: Counter[str] = Counter()
        for line in order.lines:
            have[line.item_code] += line.quantity_ordered
        mismatched += want != have
    return {
        "shopify_orders_with_several_sales_orders": sum(1 for n in refs.values() if n > 1),
        "sales_order_numbers_twice": sum(1 for n in numbers.values() if n > 1),
        "unexpected_sales_orders": sum(1 for n in numbers if n not in expected),
        "quantity_mismatches": mismatched,
    }


def fmt(value: float | None, unit: str = "s") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


# -- main -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders-per-minute", type=float, default=1500.0)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--hold-seconds", type=int, default=30)
    parser.add_argument("--pvx-requests-per-window", type=int, default=15)
    parser.add_argument("--pvx-window-seconds", type=float, default=15.0)
    parser.add_argument(
        "--pvx-time-scale",
        type=float,
        default=1.0,
        help="warehouse seconds per real second (1: the floor works in real time, as in production)",
    )
    parser.add_argument(
        "--shopify-plan", choices=["standard", "advanced", "plus", "enterprise"], default="plus",
        help="the store's Shopify plan (sets the sandbox's cost bucket and restore rate)",
    )  # fmt: skip
    parser.add_argument("--catalogue-size", type=int, default=200)
    parser.add_argument("--drain-timeout", type=float, default=600.0, help="seconds after the sale")
    parser.add_argument("--placers", type=int, default=6, help="threads placing orders")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, ledger)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops everything as Ctrl-C does
    if args.orders_per_minute <= 0 or args.minutes <= 0:
        parser.error("--orders-per-minute and --minutes must be positive")

    work = Workdir(Path(tempfile.mkdtemp(prefix="orders-flow-bench-")))
    work.prepare(args.hold_seconds)
    ports = Ports()
    env = environment(work, ports, args.pvx_requests_per_window, args.pvx_window_seconds)
    stack = Stack(work, env)
    pids: list[int] = []
    log(f"work dir {work.root}")
    shop = SandboxControl(ports.url("shopify"), timeout=120.0)
    pvx = PeoplevoxControl(ports.url("peoplevox"), timeout=120.0)
    graphql = DagsterGraphQL(ports.url("dagster"))
    result: dict[str, Any] = {}
    try:
        cli = str(BIN / "sync-pipeline")
        stack.start(
            "shopify", [cli, "sandbox", "shopify", "--port", str(ports.shopify), "--plan", args.shopify_plan]
        )
        stack.start(
            "peoplevox",
            [
                *(cli, "sandbox", "peoplevox", "--port", str(ports.peoplevox)),
                *("--requests-per-window", str(args.pvx_requests_per_window)),
                *("--window-seconds", f"{args.pvx_window_seconds:g}"),
                *("--time-scale", f"{args.pvx_time_scale:g}", "--short-pick-rate", "0"),
            ],
        )
        stack.start("receiver", [cli, "receiver", "--port", str(ports.receiver)])
        wait_until_up(
            stack,
            {
                "shopify": f"{ports.url('shopify')}/_sandbox/state",
                "peoplevox": f"{ports.url('peoplevox')}/_sandbox/state",
                "receiver": f"{ports.url('receiver')}/healthz",
            },
        )
        for topic in WEBHOOK_TOPICS:
            shop.register_webhook(topic, f"{ports.url('receiver')}/webhooks/shopify")
        with PeoplevoxClient(
            ports.url("peoplevox"),
            "sandbox",
            "integration",
            PEOPLEVOX_PASSWORD,
            args.pvx_requests_per_window,
            args.pvx_window_seconds,
        ) as client:
            # The status callback exactly as `sync-pipeline subscribe` registers it.
            [status_callback] = [
                w
                for w in wanted_subscriptions(ports.url("receiver"), CALLBACK_TOKEN)
                if w.topic == SALES_ORDER_STATUS.event
            ]
            client.subscribe_event(status_callback.topic, status_callback.url)
        catalogue = seed_catalogue(shop, pvx, args.catalogue_size, random.Random(args.seed), work.config)
        # Enough stock everywhere that the sale never runs a SKU dry (stock is not what we measure).
        shop.set_stock([StockSpec(sku=s, available=1_000_000) for s in catalogue.skus])
        pvx.set_stock([(c, site, 1_000_000) for c in catalogue.item_codes for site in catalogue.sites])
        log(
            f"seeded {len(catalogue.shopify_skus)} Shopify SKUs ({len(catalogue.config_bundles)} config"
            f" bundles), {len(catalogue.item_codes)} Peoplevox item types on {', '.join(catalogue.sites)}"
        )

        stack.start("dagster", [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(ports.dagster)])
        wait_until_up(stack, {"dagster": f"{ports.url('dagster')}/server_info"}, timeout=180)
        graphql.wait_for_first_run("orders_ingest_job", stack, timeout=180)
        log(f"Dagster is up (http://127.0.0.1:{ports.dagster}); sensors are launching runs")
        pids = [c.process.pid for c in stack.children]

        pvx_before = pvx.state().counters
        shop_before = dict(shop.state()["stats"])
        log(f"flash sale: {args.orders_per_minute:g} orders/minute for {args.minutes:g} minute(s)")
        sale = run_sale(
            ports.url("shopify"),
            catalogue,
            args.orders_per_minute,
            args.minutes,
            args.hold_seconds,
            args.seed + 1,
            args.placers,
        )
        log(
            f"sale over: {len(sale.placed)} placed in {sale.seconds:.0f}s"
            f" ({len(sale.placed) / sale.seconds * 60:,.0f}/min), {len(sale.errors)} error(s)"
        )
        expected = {p.number: p for p in sale.placed}
        drained, _ = wait_for_warehouse(pvx, set(expected), stack, args.drain_timeout)
        # Let in-flight runs finish (the last release run records its verdicts), then stop at once;
        # a run the stop still interrupts is reported apart from failures.
        graphql.wait_until_idle(None, timeout=180)
        interrupted = {r["runId"] for r in graphql.runs(None, IN_FLIGHT)}
        stack.stop(("dagster",))
        log("Dagster stopped; reading the sandboxes, the ledger and the instance")
        pvx_after = pvx.state()
        shop_after = shop.state()
        stack.stop()
        result = report(
            args, sale, expected, drained, pvx_before, pvx_after, shop_before, shop_after, work, interrupted
        )
    finally:
        shop.close()
        pvx.close()
        graphql.close()
        stack.stop()
        leftover = stack.leftovers(pids)
        print(f"leftover process groups: {leftover}", flush=True)
        if args.keep:
            print(f"kept {work.root}", flush=True)
        else:
            shutil.rmtree(work.root, ignore_errors=True)
    return 0 if result.get("lost") == 0 and result.get("duplicates") == 0 else 1


def report(
    args: argparse.Namespace,
    sale: Sale,
    expected: dict[str, Placed],
    drained: bool,
    pvx_before: Any,
    pvx_after: SandboxSnapshot,
    shop_before: dict[str, int],
    shop_after: dict[str, Any],
    work: Workdir,
    interrupted: set[str],
) -> dict[str, Any]:
    hold = args.hold_seconds
    led = ledger_figures(work.ledger, sale.placed, hold)
    runs = run_figures(work.dagster_home, interrupted)
    in_pvx = {o.number for o in pvx_after.orders} & set(expected)
    n_pvx = len(in_pvx)
    requests = counter_delta(pvx_after.counters.requests, pvx_before.requests)
    total_requests = sum(requests.values())
    refused = pvx_after.counters.limiter_refused - pvx_before.limiter_refused
    save_calls = counter_delta(pvx_after.counters.save_calls, pvx_before.save_calls)
    save_rows = counter_delta(pvx_after.counters.save_rows, pvx_before.save_rows)
    shop_stats = counter_delta(dict(shop_after["stats"]), shop_before)

    # Throughput: orders in Peoplevox ÷ minutes from the first order created to the last confirmed.
    span_minutes = None
    if led["first_created"] and led["last_confirmed"]:
        span_minutes = (led["last_confirmed"] - led["first_created"]).total_seconds() / 60
    sustained = n_pvx / span_minutes if span_minutes else None
    limiter_rps = args.pvx_requests_per_window / args.pvx_window_seconds
    per_order = total_requests / n_pvx if n_pvx else None
    ceiling = limiter_rps * 60 / per_order if per_order else None
    save_per_order = sum(save_calls.values()) / n_pvx if n_pvx else None
    save_ceiling = limiter_rps * 60 / save_per_order if save_per_order else None

    dup = duplicate_figures(pvx_after, expected, led["items"])
    header_resaves = save_rows.get("Sales orders", 0) - n_pvx
    duplicates = (
        dup["shopify_orders_with_several_sales_orders"]
        + dup["sales_order_numbers_twice"]
        + dup["unexpected_sales_orders"]
        + max(0, header_resaves)
    )
    lost = len(expected) - n_pvx
    ingested = len(sale.placed) - led["states"].get("not in ledger", 0)
    failed_runs = sum(j["statuses"].get("FAILURE", 0) for j in runs.values())

    lat = spread(led["latency"])
    rows: list[tuple[str, str]] = [
        ("orders placed (planned)", f"{len(sale.placed):,} ({sale.planned:,}); errors {len(sale.errors)}"),
        (
            "placement rate achieved",
            f"{len(sale.placed) / sale.seconds * 60:,.0f}/min over {sale.seconds:,.0f}s; max lag {sale.max_lag_seconds:.2f}s",
        ),
        (
            "all in Peoplevox before timeout",
            "yes" if drained else f"NO (drain timeout {args.drain_timeout:g}s)",
        ),
        ("hold window", f"{hold}s"),
        (
            "paid → in Peoplevox − hold (ledger)",
            f"p50 {fmt(lat['p50'])}  p95 {fmt(lat['p95'])}  max {fmt(lat['max'])}  (n={len(led['latency'])})",
        ),
        (
            "  placed → in Peoplevox − hold",
            "p50 {p50}  p95 {p95}  max {max}".format(
                **{k: fmt(v) for k, v in spread(led["from_placed"]).items()}
            ),
        ),
        (
            "  paid → first seen by ingest",
            "p50 {p50}  p95 {p95}  max {max}".format(
                **{k: fmt(v) for k, v in spread(led["ingest_delay"]).items()}
            ),
        ),
        (
            "  due → first save attempt (release wait)",
            "p50 {p50}  p95 {p95}  max {max}".format(
                **{k: fmt(v) for k, v in spread(led["release_wait"]).items()}
            ),
        ),
        (
            "  first save attempt → confirmed",
            "p50 {p50}  p95 {p95}  max {max}".format(
                **{k: fmt(v) for k, v in spread(led["inject_time"]).items()}
            ),
        ),
        (
            "orders/min sustained",
            f"{fmt(sustained, '')} ({n_pvx:,} orders in {fmt(span_minutes, ' min')}, first created → last confirmed)",
        ),
        (
            "Peoplevox ceiling (all requests)",
            f"{fmt(ceiling, '')}/min = {limiter_rps:.3g} req/s × 60 s ÷ {per_order or 0:.4f} req/order"
            f" ({total_requests:,} requests ÷ {n_pvx:,} orders)",
        ),
        ("sustained ÷ ceiling", fmt(sustained / ceiling if sustained and ceiling else None, "")),
        (
            "  ceiling if only SaveData counted",
            f"{fmt(save_ceiling, '')}/min ({fmt(save_per_order and save_per_order * 100, '')} SaveData per 100 orders)",
        ),
        (
            "Peoplevox requests per 100 orders",
            f"{fmt(per_order and per_order * 100, '')}: "
            + ", ".join(f"{op} {v / n_pvx * 100:.2f}" for op, v in requests.items() if v and n_pvx),
        ),
        ("  refused by the limiter", f"{refused:,}"),
        (
            "  SaveData calls / rows",
            ", ".join(f"{t} {save_calls.get(t, 0)}/{save_rows.get(t, 0)}" for t in save_rows),
        ),
        (
            "Shopify points per order",
            f"{fmt(shop_stats.get('points_spent', 0) / len(sale.placed) if sale.placed else None, '')}"
            f" per order placed; {fmt(shop_stats.get('points_spent', 0) / ingested if ingested else None, '')}"
            f" per order ingested ({ingested:,} in the ledger);"
            f" {shop_stats.get('points_spent', 0):,.0f} points, {shop_stats.get('requests', 0):,} requests,"
            f" {shop_stats.get('throttled', 0):,} throttled",
        ),
    ]
    for job in sorted(runs):
        j = runs[job]
        d, q = j["durations"], j["queued"]
        rows.append(
            (
                f"runs {job}",
                f"{j['launched']} ({', '.join(f'{k} {v}' for k, v in sorted(j['statuses'].items()))});"
                f" run time mean {fmt(statistics.mean(d) if d else None)} max {fmt(max(d) if d else None)};"
                f" queued mean {fmt(statistics.mean(q) if q else None)}",
            )
        )
    rows += [
        ("failed runs", str(failed_runs)),
        (
            "duplicates",
            f"{duplicates} (several SOs per Shopify order {dup['shopify_orders_with_several_sales_orders']},"
            f" unexpected SOs {dup['unexpected_sales_orders']}, header re-saves {header_resaves},"
            f" quantity mismatches {dup['quantity_mismatches']})",
        ),
        ("lost (paid, shippable, mapped, not in Peoplevox)", str(lost)),
        ("ledger states (order/injection)", ", ".join(f"{k} {v}" for k, v in sorted(led["states"].items()))),
        (
            "open exceptions",
            ", ".join(f"{k} {v}" for k, v in sorted(led["open_exceptions"].items())) or "none",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n" + "=" * 100)
    print(
        f"orders flow benchmark: {args.orders_per_minute:g}/min × {args.minutes:g} min;"
        f" Peoplevox limiter {args.pvx_requests_per_window}/{args.pvx_window_seconds:g}s;"
        f" Shopify {args.shopify_plan} plan; hold {hold}s"
    )
    print("=" * 100)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    summary = {
        "orders_per_minute": args.orders_per_minute,
        "minutes": args.minutes,
        "hold_seconds": hold,
        "pvx_limiter": [args.pvx_requests_per_window, args.pvx_window_seconds],
        "placed": len(sale.placed),
        "placement_errors": len(sale.errors),
        "in_peoplevox": n_pvx,
        "drained": drained,
        "latency_minus_hold_s": {k: v and round(v, 1) for k, v in lat.items()},
        "placed_to_pvx_minus_hold_s": {k: v and round(v, 1) for k, v in spread(led["from_placed"]).items()},
        "sustained_per_min": sustained and round(sustained, 1),
        "ceiling_per_min": ceiling and round(ceiling, 1),
        "sustained_over_ceiling": sustained and ceiling and round(sustained / ceiling, 3),
        "pvx_requests_per_100_orders": {
            op: round(v / n_pvx * 100, 2) for op, v in requests.items() if v and n_pvx
        },
        "pvx_limiter_refused": refused,
        "shopify_points_per_order": round(shop_stats.get("points_spent", 0) / max(1, len(sale.placed)), 2),
        "shopify_throttled": shop_stats.get("throttled", 0),
        "runs": {job: dict(j["statuses"]) for job, j in sorted(runs.items())},
        "failed_runs": failed_runs,
        "duplicates": duplicates,
        "lost": lost,
    }
    print("JSON " + json.dumps(summary, sort_keys=True, default=str), flush=True)
    return summary


if __name__ == "__main__":
    sys.exit(main())
