"""What a background Shopify reader costs the hot path, at normal priority and yielding.

The sandbox runs in-process (standard plan: bucket 2,000, restore 100 points/s; emptied first, so
the run is the steady state of a busy hour). A foreground client (the hot path: ingest, fulfilments,
stock pushes) asks for `--demand` of the restore rate, a 32-point request on a fixed timetable. A
background reader (the finance money read) reads 152-point pages back to back, once at normal
priority and once leaving `--reserve` of the bucket to the others (lib/shopify/pacing.py). Printed
per phase, as ratios against the restore rate: the points/s each got, the foreground's lateness
against its timetable (p50/p95) and THROTTLED answers.

    .venv/bin/python benchmarks/shopify_priority.py [--seconds 25] [--demand 0.9] [--reserve 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.errors import ShopifyRetriesExhausted
from sync_pipeline.sandbox.server import serve_in_thread
from sync_pipeline.sandbox.shopify.app import create_app
from sync_pipeline.sandbox.shopify.config import PLANS, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.sandbox.shopify.control_models import ProductSpec, VariantSpec

TOKEN = "shpat_sandbox"
VARIANTS = "query Variants($first: Int!) { productVariants(first: $first) { nodes { id product { id } inventoryItem { id } } } }"
FOREGROUND_FIRST, BACKGROUND_FIRST = 10, 50  # 32 and 152 requested (and actual) points


def phase(url: str, seconds: float, demand: float, reserve: float, restore: float) -> dict[str, float]:
    control = SandboxControl(url)
    control.drain_bucket()
    control.close()
    foreground = ShopifyClient(url, TOKEN)
    background = ShopifyClient(url, TOKEN, reserve_share=reserve)
    interval = (2 + 3 * FOREGROUND_FIRST) / (demand * restore)
    started = time.monotonic()
    stop = threading.Event()
    late: list[float] = []

    gave_up = [0]

    def read_in_background() -> None:
        while not stop.is_set():
            try:
                background.execute("Variants", VARIANTS, {"first": BACKGROUND_FIRST})
            except ShopifyRetriesExhausted:  # THROTTLED 8 times running: a real reader would fail here
                gave_up[0] += 1

    reader = threading.Thread(target=read_in_background)
    reader.start()
    due = started
    while due - started < seconds:
        time.sleep(max(0.0, due - time.monotonic()))
        foreground.execute("Variants", VARIANTS, {"first": FOREGROUND_FIRST})
        late.append(time.monotonic() - due)
        due += interval
    elapsed = time.monotonic() - started
    stop.set()
    reader.join()
    result = {
        "foreground": foreground.stats.points_spent / elapsed / restore,
        "background": background.stats.points_spent / elapsed / restore,
        "late_p50": statistics.median(late),
        "late_p95": statistics.quantiles(late, n=20)[-1],
        "throttled": foreground.stats.throttled + background.stats.throttled,
        "requests": foreground.stats.requests + background.stats.requests,
        "yielded": background.yielded_seconds,
        "gave_up": gave_up[0],
    }
    foreground.close()
    background.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--demand", type=float, default=0.9, help="foreground demand / restore rate")
    parser.add_argument("--reserve", type=float, default=0.5, help="background reserve share")
    args = parser.parse_args()
    restore = PLANS["standard"][1]
    app = create_app(ShopifySandboxConfig(plan="standard"))
    with serve_in_thread(app) as url:
        control = SandboxControl(url)
        control.add_product(
            ProductSpec(title="Tee", variants=[VariantSpec(sku=f"TEE-{n}", title=f"T{n}") for n in range(60)])
        )
        control.close()
        print(
            f"foreground demand {args.demand:.2f} x restore ({restore:.0f} points/s), {args.seconds:.0f} s a phase"
        )
        print(
            "background   reserve  fg points/s  bg points/s  fg late p50  fg late p95  throttled  bg yielded"
        )
        for label, reserve in (("normal", 0.0), ("yielding", args.reserve)):
            r = phase(url, args.seconds, args.demand, reserve, restore)
            print(
                f"{label:<12} {reserve:>7.2f}  {r['foreground']:>9.2f} x  {r['background']:>9.2f} x"
                f"  {r['late_p50']:>9.2f} s  {r['late_p95']:>9.2f} s  {r['throttled']:>4.0f}/{r['requests']:<5.0f}"
                f"  {r['yielded']:>8.1f} s  {r['gave_up']:>6.0f}"
            )


if __name__ == "__main__":
    main()
