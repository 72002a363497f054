"""The peak itself: the sale, the warehouse floor, stock moving, faults, and progress lines.

Runs for the profile's minutes, then waits (up to the drain timeout) until the flows have caught
up: every order owed is in Peoplevox, the floor has despatched everything it could allocate and
every package is fulfilled in Shopify, every stock change is visible in Shopify.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import rehearsal as ledger_rehearsal
from sync_pipeline.rehearsal.cpu import CpuMeter
from sync_pipeline.rehearsal.faults import FaultInjector, Injected, Processes
from sync_pipeline.rehearsal.sale import Sale, run_sale
from sync_pipeline.rehearsal.stack import runs_by_job, runs_in_flight
from sync_pipeline.rehearsal.stock_watch import Shared, goods_in, peak_buffers, poll, sample, shoppers
from sync_pipeline.rehearsal.world import World

IN_PROGRESS = ("Allocated", "Picking", "Packed")


@dataclass
class PeakResult:
    sale: Sale
    stock: Shared
    injected: list[Injected]
    returns: int = 0
    return_errors: list[str] = field(default_factory=list)
    drained: bool = False
    sale_started_wall: float = 0.0  # time.time() when the sale began
    peak_seconds: float = 0.0  # sale start → drained (or timed out)
    load_average: list[float] = field(default_factory=list)  # 1-minute, at the start and the end
    shop_before: dict[str, float] = field(default_factory=dict)  # Shopify's counters as the sale began
    pvx_before: dict[str, object] = field(default_factory=dict)  # Peoplevox's counters as the sale began
    cpu: dict[str, Any] = field(default_factory=dict)  # where the machine's CPU went over the peak (cpu.py)
    # Run worker pid → its CPU over time, one series a process that had the pid (`CpuMeter.worker_samples`).
    worker_cpu: dict[int, list[list[tuple[float, float]]]] = field(default_factory=dict)

    @property
    def killed_pids(self) -> list[int]:
        """Run workers the `kill_run_worker` fault SIGKILLed."""
        return [x.pid for x in self.injected if x.pid is not None]

    @property
    def owed(self) -> set[str]:
        """Sales order numbers the product owes Peoplevox: every order of the sale except those
        cancelled inside the hold window, and every order the scarce shoppers placed."""
        return {p.number for p in self.sale.placed if p.kind != "cancel_in_hold"} | {
            number for number, _, _ in self.stock.orders
        }


def wait_for_sensors(world: World, timeout: float = 300.0) -> None:
    """The daemon evaluates sensors once the ingest sensor has launched its first run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        world.stack.check_alive()
        if runs_by_job(world.work.dagster_home).get("orders_ingest_job"):
            return
        time.sleep(2.0)
    raise RuntimeError(f"no orders_ingest_job run within {timeout:.0f}s: is the daemon running sensors?")


def _returns(
    world: World, per_minute: float, stop: threading.Event, rng: random.Random, out: PeakResult
) -> None:
    """Customers send a unit back from a despatched order: graded reusable, back on the shelf."""
    if per_minute <= 0:
        return
    with world.pvx(timeout=30.0) as pvx:
        while not stop.wait(60.0 / per_minute):
            with world.warehouse.lock:
                despatched = [o for o in world.warehouse.orders.values() if o.status == "Despatched"]
            if not despatched:
                continue
            order = rng.choice(despatched)
            line = rng.choice(list(order.lines.values()))
            try:
                pvx.process_return(order.number, line.item_code, 1, "Changed mind", reusable=True)
                out.returns += 1
            except Exception as error:  # counted and reported; the peak goes on
                out.return_errors.append(f"{order.number}: {error}")


def _progress(world: World, result: PeakResult, stop: threading.Event, every: float) -> None:
    """A line every `every` seconds, from the sandboxes and Dagster's run storage: never the ledger,
    whose one-writer lock the product needs."""
    started = time.monotonic()
    with world.shop(timeout=60.0) as shop:
        while not stop.wait(every):
            try:
                fulfilled = sum(1 for e in shop.emails() if e["kind"] == "shipping_confirmation")
                flight = len(runs_in_flight(world.work.dagster_home))
            except Exception as error:  # busy: say so, try again next time
                world.log(f"progress: {error}")
                continue
            counters = world.pvx_state.counters.snapshot()
            with world.warehouse.lock:
                orders, despatches = len(world.warehouse.orders), len(world.warehouse.despatches)
            world.log(
                f"+{time.monotonic() - started:.0f}s placed {len(result.sale.placed)} (+{len(result.stock.orders)} scarce);"
                f" Peoplevox {orders} orders, {despatches} despatches, {sum(counters['requests'].values())} requests"
                f" ({counters['limiter_refused']} refused); Shopify {fulfilled} shipping emails;"
                f" stock changes not yet in Shopify {result.stock.left()}; runs in flight {flight}"
            )


def caught_up(world: World, owed: set[str], stock: Shared) -> bool:
    """Every owed order in Peoplevox, nothing mid-floor, every package fulfilled, no write-ahead row
    left in doubt (the product has settled every effect it started), every watched SKU at its target."""
    with world.warehouse.lock:
        numbers = set(world.warehouse.orders)
        busy = any(o.status in IN_PROGRESS for o in world.warehouse.orders.values())
        packages = {p.number for d in world.warehouse.despatches.values() for p in d.packages}
    if busy or not owed <= numbers or stock.left():
        return False
    with Ledger(world.work.ledger, busy_timeout=60).transaction() as con:
        # A pooled parcel counts once the fulfilment carrying it is created (`packages_fulfilled`).
        fulfilled = ledger_rehearsal.packages_fulfilled(con)
        unsettled = ledger_rehearsal.unsettled_counts(con)
    if not packages <= set(fulfilled) or any(unsettled.values()):
        return False
    from sync_pipeline.rehearsal.collect import stock_in_step  # collect reads what peak records

    return stock_in_step(world, stock.orders)


def play(world: World, seed: int, log: Callable[[str], None]) -> PeakResult:
    profile = world.profile
    stock = Shared()
    result = PeakResult(Sale(planned=0), stock, [], load_average=[os.getloadavg()[0]])
    stop = threading.Event()
    sale_over = threading.Event()  # returns stop with the sale, so the drain can settle
    shop = world.shop(timeout=60.0)
    injector = FaultInjector(shop, world.pvx_state, Processes(world.run_workers, world.restart_daemon), log)
    shop_url = world.ports.url("shopify")
    seconds = profile.sale_seconds
    threads = [
        threading.Thread(target=poll, args=(shop_url, stock, 1.0), name="stock-poll", daemon=True),
        threading.Thread(target=sample, args=(world.warehouse, shop_url, stock, 5.0, frozenset(world.scarce)),
                         name="oversell", daemon=True),
        threading.Thread(target=shoppers, args=(shop_url, stock, world.scarce, profile.scarce_orders_per_minute,
                                                seconds, seed + 2), name="scarce-shoppers", daemon=True),
        threading.Thread(target=goods_in, args=(world.warehouse, stock, world.restocked, world.buffers,
                                                profile.goods_in_per_minute / 60, seconds, seed + 3),
                         kwargs={"in_peak": peak_buffers(world.restocked, load_business_rules(world.work.config).stock_buffers)},
                         name="goods-in", daemon=True),
        threading.Thread(target=_returns, args=(world, profile.returns_per_minute, sale_over, random.Random(seed + 4),
                                                result), name="returns", daemon=True),
        threading.Thread(target=_progress, args=(world, result, stop, 15.0), name="progress", daemon=True),
    ]  # fmt: skip
    result.shop_before = dict(shop.state()["stats"])
    result.pvx_before = world.pvx_state.counters.snapshot()
    meter = CpuMeter(world.process_groups).start()
    started = time.monotonic()
    result.sale_started_wall = time.time()
    fault_thread = threading.Thread(
        target=injector.run, args=(profile.schedule(), started, stop), name="faults", daemon=True
    )
    for t in [*threads, fault_thread]:
        t.start()
    assert world.catalogue is not None
    log(f"sale: {profile.orders_per_minute:g} orders/minute for {profile.minutes:g} minute(s), "
        f"{len(profile.schedule())} fault(s) scheduled")  # fmt: skip
    result.sale = run_sale(shop_url, world.catalogue, profile.orders_per_minute, profile.minutes, profile.hold_seconds,
                           seed + 1, workers=6, edit_share=profile.edit_share, cancel_share=profile.cancel_share,
                           log=log, sale=result.sale)  # fmt: skip
    sale_over.set()
    log(
        f"sale over: {len(result.sale.placed)} placed in {result.sale.seconds:.0f}s, {len(result.sale.errors)} error(s)"
    )
    fault_thread.join(timeout=max(0.0, seconds + 120 - (time.monotonic() - started)))
    deadline = time.monotonic() + profile.drain_timeout
    while time.monotonic() < deadline:
        world.stack.check_alive()
        if caught_up(world, result.owed, stock):
            result.drained = True
            break
        time.sleep(10.0)
    result.peak_seconds = time.monotonic() - started
    result.cpu = meter.stop()
    result.worker_cpu = meter.worker_samples()
    log(("caught up" if result.drained else f"NOT caught up after the {profile.drain_timeout:g}s drain timeout")
        + f" {result.peak_seconds:.0f}s after the sale began")  # fmt: skip
    stop.set()
    stock.stop.set()
    injector.clear()
    for t in [*threads, fault_thread]:
        t.join(timeout=60)
    injector.close_counts()
    result.injected = injector.injected
    result.load_average.append(os.getloadavg()[0])
    shop.close()
    return result


__all__ = ["PeakResult", "caught_up", "play", "wait_for_sensors"]
