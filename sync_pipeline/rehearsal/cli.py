"""`sync-pipeline rehearse`: a Black Friday rehearsal of every flow at once, with faults.

Starts the Shopify and Peoplevox sandboxes with the store's limits, the receiver and the
Dagster daemon (its sensors launch every run), plays a peak (orders at a rate, some edited or
cancelled in the hold window; the warehouse allocating, picking and despatching; goods-in,
returns and scarce SKUs moving stock) with faults on a schedule, waits for the flows to catch
up, then checks every effect against both sandboxes. Prints per flow p50/p95/max latency,
throughput against the API budget's ceiling, Shopify and Peoplevox budget used, runs, lost and
duplicated effects and the oversell invariant; writes markdown and JSON under
data/exports/rehearsal/. Exits 1 when anything was lost or duplicated.

    sync-pipeline rehearse --minutes 5 --orders-per-minute 1500          # issue 13's settings
    sync-pipeline rehearse --minutes 0.5 --orders-per-minute 60 --json   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_pipeline.lib.ledger.connection import LOCK_TIMES_ENV
from sync_pipeline.rehearsal import collect, cpu, deliveries, ledger_lock, report
from sync_pipeline.rehearsal.accounting import Accounting
from sync_pipeline.rehearsal.peak import PeakResult, play, wait_for_sensors
from sync_pipeline.rehearsal.profile import FAULT_NAMES, load_profile, parse_fault_list
from sync_pipeline.rehearsal.stack import Ports, Workdir, log
from sync_pipeline.rehearsal.world import World, start_world
from sync_pipeline.sandbox.shopify.config import PLANS
from sync_pipeline.settings import SyncSettings

# Called after the drain, before the effects are read: a test makes a real loss here.
BeforeAccounting = Callable[[World, PeakResult], None]


def _say(message: str) -> None:
    log(message, prefix="rehearse")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sync-pipeline rehearse", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument(
        "--profile", type=Path, help="YAML file of the store's limits and peak (keys as the flags)"
    )
    p.add_argument("--minutes", type=float, help="length of the sale (default 5)")
    p.add_argument("--orders-per-minute", type=float, help="order rate (default 1500)")
    p.add_argument(
        "--shopify-plan", choices=sorted(PLANS), help="sets the cost bucket and restore rate (plus)"
    )
    p.add_argument("--pvx-requests-per-window", type=int, help="Peoplevox limiter: requests (15)")
    p.add_argument("--pvx-window-seconds", type=float, help="Peoplevox limiter: window (15)")
    p.add_argument("--hold-seconds", type=int, help="hold window before release (30)")
    p.add_argument("--cutoff-status", help="Peoplevox status from which changes go to CX (Allocated)")
    p.add_argument("--catalogue-size", type=int, help="plain SKUs in the catalogue (200)")
    p.add_argument(
        "--drain-timeout", type=float, help="seconds after the sale for the flows to catch up (900)"
    )
    p.add_argument("--faults", help=f"all (default), none, or name@seconds,… of: {', '.join(FAULT_NAMES)}")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--base-port",
        type=int,
        help="ports N (Shopify), N+1 (Peoplevox), N+2 (receiver); default free ones",
    )
    p.add_argument("--ui-port", type=int, help="also start the Dagster UI on this port")
    p.add_argument(
        "--out", type=Path, help="report directory (default data/exports/rehearsal under SYNC_DATA_DIR)"
    )
    p.add_argument(
        "--keep", action="store_true", help="keep the working directory (logs, ledger, DAGSTER_HOME)"
    )
    p.add_argument("--json", action="store_true", help="make the last line the JSON report")
    p.add_argument(
        "--cold-run-workers",
        action="store_true",
        help="start every run through the code server, not forked warm (to compare the two)",
    )
    return p


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str], before_accounting: BeforeAccounting | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        profile = load_profile(
            args.profile,
            minutes=args.minutes,
            orders_per_minute=args.orders_per_minute,
            shopify_plan=args.shopify_plan,
            pvx_requests_per_window=args.pvx_requests_per_window,
            pvx_window_seconds=args.pvx_window_seconds,
            hold_seconds=args.hold_seconds,
            cutoff_status=args.cutoff_status,
            catalogue_size=args.catalogue_size,
            drain_timeout=args.drain_timeout,
        )
        if args.faults is not None:
            profile = profile.model_copy(
                update={"faults": parse_fault_list(args.faults, profile.sale_seconds)}
            )
    except ValueError as error:
        print(f"sync-pipeline rehearse: {error}", file=sys.stderr)
        return 2
    out_dir = args.out or SyncSettings().exports_dir / "rehearsal"
    command = shlex.join(["sync-pipeline", "rehearse", *argv])
    signal.signal(signal.SIGTERM, _interrupt)
    work = Workdir(Path(tempfile.mkdtemp(prefix="rehearsal-")))
    work.prepare(
        profile.hold_seconds, {"cutoff_status": profile.cutoff_status}, cold_run_workers=args.cold_run_workers
    )
    ports = Ports.block(args.base_port)
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    _say(f"working directory {work.root}")
    world: World | None = None
    figures: dict[str, Any] = {}
    accounting: Accounting | None = None  # stays None when the rehearsal never got to the accounting
    # This process's own ledger transactions (the watchers' reads) hold the lock too: recorded
    # with the product's, and named by caller in the report.
    os.environ[LOCK_TIMES_ENV] = str(work.ledger_lock_times)
    try:
        world = start_world(profile, work, ports, args.ui_port, args.seed, _say)
        wait_for_sensors(world)
        _say(
            "the daemon is launching runs" + (f"; UI http://127.0.0.1:{args.ui_port}" if args.ui_port else "")
        )
        peak = play(world, args.seed, _say)
        stop_dagster(world)
        if before_accounting is not None:
            before_accounting(world, peak)
        seen = collect.observe(world, peak)
        if peak.cpu:
            peak.cpu["run_workers_by_job"] = cpu.by_job(peak.worker_cpu, collect.worker_starts(world))
        holds, unreadable = ledger_lock.read_holds(work.ledger_lock_times)
        ledger = ledger_lock.summary(
            holds, peak.sale_started_wall, peak.sale_started_wall + peak.peak_seconds, unreadable
        )
        collect.judge_stock_changes(world, peak.stock)
        accounting = collect.account(peak, seen)
        if args.keep:  # each goods-in as judged, to trace a slow one against the ledger's pushes and the runs
            (work.root / "stock_changes.json").write_text(
                json.dumps([c.as_record() for c in peak.stock.changes], indent=1, default=str) + "\n"
            )
        figures = report.figures(
            profile,
            owed_numbers=peak.owed,
            timings=seen.timings,
            packages=seen.packages,
            fulfilled_at=seen.fulfilled_at,
            stock_latencies=peak.stock.latencies(),
            stock_unseen=peak.stock.unseen(),
            shop_stats=seen.shop_state["stats"],
            shop_before=peak.shop_before,
            pvx_counters=seen.pvx_counters,
            pvx_before=peak.pvx_before,
            peak_seconds=peak.peak_seconds,
            runs=seen.runs,
            accounting=accounting,
            oversell={
                "samples": peak.stock.samples,
                "violations": len(peak.stock.violations),
                "examples": [list(v) for v in peak.stock.violations[:5]],
            },
            sale={
                "placed": len(peak.sale.placed),
                "planned": peak.sale.planned,
                "errors": len(peak.sale.errors),
                "follow_ups": peak.sale.follow_ups,
                "scarce_orders": len(peak.stock.orders),
                "goods_in": len(peak.stock.changes),
                "returns": peak.returns,
                "max_lag_s": round(peak.sale.max_lag_seconds, 2),
                "error_examples": peak.sale.errors[:5] + peak.stock.errors[:5],
            },
            faults=[x.report for x in peak.injected],
            load_average=peak.load_average,
            drained=peak.drained,
            cpu=peak.cpu,
            ledger=ledger,
            deliveries=deliveries.summary(
                world.pvx_state.events.waits(), seen.shop_state.get("webhook_deliveries", [])
            ),
        )
        figures["started_at"] = started_at
        md, js = report.write(figures, command, out_dir)
        print(report.markdown(figures, command), flush=True)
        _say(f"report: {md} and {js}")
    except KeyboardInterrupt:
        _say("interrupted; stopping everything")
        return 130
    finally:
        os.environ.pop(LOCK_TIMES_ENV, None)
        if world is not None:
            world.stack.stop()
            world.pvx_server.stop()
        if args.keep:
            _say(f"kept {work.root}")
        else:
            shutil.rmtree(work.root, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, sort_keys=True, default=str), flush=True)
    return 0 if accounting is not None and accounting.clean else 1


def stop_dagster(world: World, grace: float = 180.0) -> None:
    """Stop the daemon (no new runs), let the run workers in flight finish (up to `grace`
    seconds), then stop what is left of Dagster."""
    for child in world.stack.children:
        if child.name.startswith("dagster-daemon") and child.process.poll() is None:
            os.kill(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and world.run_workers():
        time.sleep(2.0)
    left = world.run_workers()
    names = [c.name for c in [*world.stack.children, *world.stack.retired] if c.name.startswith("dagster")]
    world.stack.stop(tuple(names))
    _say(
        "Dagster stopped"
        + (f" ({len(left)} run worker(s) still running after {grace:g}s were stopped)" if left else "")
        + "; reading both sandboxes, the ledger and the runs"
    )
