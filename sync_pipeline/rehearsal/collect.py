"""After the peak: read both sandboxes, the ledger and Dagster's runs; account for every effect.

Called once Dagster is stopped (no writer left on the ledger, no run in flight), with the
sandboxes still up.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_pipeline.lib.ledger import Ledger, stock_levels
from sync_pipeline.lib.ledger import rehearsal as ledger_rehearsal
from sync_pipeline.rehearsal import accounting, runs, stock_judge, stock_watch
from sync_pipeline.rehearsal.peak import PeakResult
from sync_pipeline.rehearsal.stock_watch import SITE, awaiting_units
from sync_pipeline.rehearsal.world import World
from sync_pipeline.sandbox.shopify.control import SandboxControl

REF = "CustomerPurchaseOrderReferenceNumber"


@dataclass
class Observed:
    """Everything the report needs, read once."""

    shop_state: dict[str, Any]
    emails: list[dict[str, Any]]
    inventory_writes: list[dict[str, Any]]
    pvx_orders: dict[str, dict[str, Any]]  # number → {status, ref, lines: Counter}
    packages: dict[str, tuple[str, datetime]]  # tracking number → (package number, despatched at, real UTC)
    pvx_counters: dict[str, Any]
    timings: list[ledger_rehearsal.OrderTiming]
    fulfilled_at: dict[str, ledger_rehearsal.Fulfilled]  # package number → its fulfilment (own or carrying)
    runs: dict[str, dict[str, Any]]  # job → launched, by status, mean start delay and run time
    pushes_applied: dict[str, bool]  # stock push request key → the ledger records it applied
    stock_levels: dict[str, accounting.StockView] = field(default_factory=dict)


def observe(world: World, peak: PeakResult) -> Observed:
    with world.shop() as shop:
        state = shop.state()
        emails = shop.emails()
        writes = shop.inventory_writes()
        levels = read_stock_views(world, shop, peak.stock.orders, busy_timeout=120)
    wh = world.warehouse
    with wh.lock:
        orders = {
            n: {"status": o.status, "ref": str(o.fields.get(REF, "")),
                "lines": Counter({ln.item_code: ln.quantity_ordered for ln in o.lines.values()})}
            for n, o in wh.orders.items()
        }  # fmt: skip
        packages = {
            p.tracking_number or p.number: (
                p.number,
                (d.despatched_at + world.clock_offset).replace(tzinfo=None),
            )
            for d in wh.despatches.values()
            for p in d.packages
        }
    with Ledger(world.work.ledger, busy_timeout=120).transaction() as con:
        timings = ledger_rehearsal.order_timings(con)
        fulfilled = ledger_rehearsal.packages_fulfilled(con)
        pushes = ledger_rehearsal.stock_push_requests(con)
    return Observed(state, emails, writes, orders, packages, world.pvx_state.counters.snapshot(), timings,
                    fulfilled, run_statuses(world, peak.killed_pids), pushes, levels)  # fmt: skip


def read_stock_views(world: World, shop: SandboxControl, peak_orders: list[tuple[str, str, int]],
                     busy_timeout: float = 60) -> dict[str, accounting.StockView]:  # fmt: skip
    """Each watched SKU's Shopify figure against its target, read now: Shopify first, then
    Peoplevox's available and order statuses together under the warehouse's lock (an allocation
    moves both), then the buffer each SKU's last target used (velocity can move it during the sale)."""
    on_sale = stock_watch.shown(shop)
    with world.warehouse.lock:
        available = {code: lv.available for (code, site), lv in world.warehouse.stock.items() if site == SITE}
        statuses = {n: o.status for n, o in world.warehouse.orders.items()}
    with Ledger(world.work.ledger, busy_timeout=busy_timeout).transaction() as con:
        buffers = {sku: p.buffer for (sku, _), p in stock_levels.positions(con).items()}
    return stock_views(world, on_sale, available, awaiting_units(peak_orders, statuses), buffers)


def stock_views(world: World, shown: dict[str, int], available: dict[str, int], awaiting: Counter[str],
                buffers: dict[str, int]) -> dict[str, accounting.StockView]:  # fmt: skip
    """What Shopify shows against the target, for the SKUs whose every order the rehearsal knows:
    Peoplevox available − units on orders it has not allocated − the buffer of the last target."""
    return {
        sku: accounting.StockView(
            shown.get(sku, 0),
            max(0, available.get(sku, 0) - awaiting[sku] - buffers.get(sku, world.buffers.get(sku, 0))),
        )
        for sku in [*world.restocked, *world.scarce]
    }


def stock_in_step(world: World, peak_orders: list[tuple[str, str, int]]) -> bool:
    """Every watched SKU shows its target in Shopify now (the drain waits for this)."""
    with world.shop(timeout=60.0) as shop:
        views = read_stock_views(world, shop, peak_orders)
    return all(v.shown == v.target for v in views.values())


def judge_stock_changes(world: World, stock: stock_watch.Shared) -> None:
    """Judge every goods-in with the mode of the push behind each Shopify figure (`stock_judge`):
    the ledger's applied pushes of the watched SKUs, each run's `peak_mode` from its materialization."""
    with Ledger(world.work.ledger, busy_timeout=120).transaction() as con:
        rows = ledger_rehearsal.applied_stock_pushes(con, list(world.restocked))
    modes = push_peak_modes(world)
    pushes: dict[str, list[stock_judge.AppliedPush]] = {}
    for sku, sent_at, quantity, run_id in rows:
        pushes.setdefault(sku, []).append(
            stock_judge.AppliedPush(sent_at, quantity, modes.get(run_id or "", False))
        )
    with stock.lock:
        stock_judge.rejudge(stock.changes, stock.shown_history, pushes)


def push_peak_modes(world: World) -> dict[str, bool]:
    """Run id → the peak mode the stock push decided in it, from its materialization's metadata
    (a run killed before it materialized has none: its pushes are judged outside peak mode)."""
    import dagster as dg  # here: the rest of the rehearsal does not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(world.work.dagster_home)
    modes: dict[str, bool] = {}
    with dg.DagsterInstance.get() as instance:
        keys = [k for k in instance.get_asset_keys() if k.path[-2:] == ["shopify", "inventory_levels"]]
        for key in keys:
            cursor = None
            while True:
                page = instance.fetch_materializations(key, limit=500, cursor=cursor)
                for record in page.records:
                    meta = record.asset_materialization.metadata if record.asset_materialization else {}
                    if "peak_mode" in meta:
                        modes[record.run_id] = bool(meta["peak_mode"].value)
                if not page.has_more:
                    break
                cursor = page.cursor
    return modes


def run_statuses(world: World, killed_pids: Iterable[int] = ()) -> dict[str, dict[str, Any]]:
    """Per job: runs by status, mean seconds from creation to start (queue and launch) and of
    the run itself, from Dagster's run storage. A failed run whose worker is one of `killed_pids`
    (the rehearsal's `kill_run_worker` fault) and that a retry completed is listed apart from the
    failures (`runs.KILLED_RETRIED`)."""
    import dagster as dg  # here: the rest of the rehearsal does not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(world.work.dagster_home)
    views: list[runs.RunView] = []
    waits: dict[str, list[float]] = {}
    lengths: dict[str, list[float]] = {}
    with dg.DagsterInstance.get() as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            failed = run.status == dg.DagsterRunStatus.FAILURE
            views.append(runs.RunView(run.run_id, run.job_name, run.status.value,
                                      run.tags.get("dagster/parent_run_id"),
                                      worker_start(instance, run.run_id)[0] if failed else None))  # fmt: skip
            if record.start_time:
                waits.setdefault(run.job_name, []).append(
                    record.start_time - record.create_timestamp.timestamp()
                )
                if record.end_time:
                    lengths.setdefault(run.job_name, []).append(record.end_time - record.start_time)
    statuses = runs.by_status(views, killed_pids)
    return {
        job: {
            "launched": sum(c.values()),
            "by_status": dict(c),
            "mean_start_delay_s": _mean(waits.get(job, [])),
            "mean_run_s": _mean(lengths.get(job, [])),
        }
        for job, c in sorted(statuses.items())
    }


def worker_starts(world: World) -> list[tuple[str, int | None, float | None]]:
    """(job, run worker pid, when its steps began executing) of every run."""
    import dagster as dg  # here: the rest of the rehearsal does not need Dagster loaded

    os.environ["DAGSTER_HOME"] = str(world.work.dagster_home)
    with dg.DagsterInstance.get() as instance:
        return [(run.job_name, *worker_start(instance, run.run_id)) for run in instance.get_runs()]


def worker_start(instance: Any, run_id: str) -> tuple[int | None, float | None]:
    """The run worker's process id and when its steps began executing, from the engine events
    Dagster writes ("Started process for run (pid: …)", "Executing steps in process …")."""
    import dagster as dg

    pid, executing_at = None, None
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        value = event.engine_event_data.metadata.get("pid") if event and event.engine_event_data else None
        if pid is None and value is not None and str(value.value).isdigit():
            pid = int(value.value)
        if executing_at is None and (entry.message or "").startswith("Executing steps"):
            executing_at = entry.timestamp
    return pid, executing_at


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def account(peak: PeakResult, seen: Observed) -> accounting.Accounting:
    """Lost and duplicated effects of every kind, from what the peak did and what `observe` read."""
    placed = peak.sale.placed
    number_of_name = {p.name: p.number for p in placed}
    cancelled_kind = {p.number for p in placed if p.kind == "cancel_in_hold"}
    owed = peak.owed
    # Several Peoplevox sales orders for one Shopify order show as one number plus others
    # carrying the same reference (the order's name).
    per_order: Counter[str] = Counter()
    unexpected = []
    for number, order in seen.pvx_orders.items():
        if number in owed or number in cancelled_kind:
            per_order[number] += 1
        elif order["ref"] in number_of_name:
            per_order[number_of_name[order["ref"]]] += 1
        else:
            unexpected.append(number)
    status = {n: o["status"] for n, o in seen.pvx_orders.items()}
    edited = {p.number: p.order_id for p in placed if p.kind == "edit_in_hold"}
    shop_orders = {o["id"]: o for o in seen.shop_state.get("orders", [])}
    wanted = {}
    for number, order_id in edited.items():
        # Summed per SKU: an edit that adds a variant the order already holds makes a second line of
        # the same SKU (Shopify's orderEditAddVariant does), and both lines ship.
        wanted[number] = Counter()
        for li in shop_orders.get(order_id, {}).get("line_items", []):
            if li["current_quantity"] and li["requires_shipping"]:
                wanted[number][li["sku"]] += li["current_quantity"]
    in_wh = {n: seen.pvx_orders[n]["lines"] for n in edited if n in seen.pvx_orders}
    tracking = [t.get("number") for o in shop_orders.values() for f in o.get("fulfillments", [])
                for t in (f.get("tracking") or []) if t.get("number")]  # fmt: skip
    notified = [
        f["id"] for o in shop_orders.values() for f in o.get("fulfillments", []) if f.get("notify_customer")
    ]
    confirmations = [e["fulfillment"] for e in seen.emails if e["kind"] == "shipping_confirmation"]
    # Writes the baseline reconcile made before the peak are the product's too (same code, same ledger).
    keys = [w.get("key") for w in seen.inventory_writes]
    return accounting.Accounting({
        "orders": accounting.orders(owed, per_order, unexpected),
        "cancellations": accounting.cancellations(cancelled_kind, status),
        "edits": accounting.edits(wanted, in_wh),
        "fulfilments": accounting.fulfilments(seen.packages, tracking),
        "emails": accounting.emails(notified, confirmations),
        "stock_writes": accounting.stock_writes(seen.stock_levels, keys, seen.pushes_applied),
    })  # fmt: skip
