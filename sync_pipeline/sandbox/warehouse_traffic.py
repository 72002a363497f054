"""The demo's warehouse deliveries: goods booked in at a steady pace.

Alongside the order traffic (whose returns put units back on the shelf, `traffic_money.py`), so
the stock flow has something to show: each goods-in raises Peoplevox's AvailabilityChanges, and
Shopify's available rises within seconds (`shopify/inventory_levels` lists the largest corrections).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from sync_pipeline.sandbox.peoplevox.control import ControlError, PeoplevoxControl

SITE = "PrimarySite"


@dataclass
class WarehouseReport:
    goods_in: int = 0
    errors: list[str] = field(default_factory=list)


def run_warehouse(
    pvx: PeoplevoxControl,
    item_codes: Sequence[str],
    every_seconds: float,
    stop: threading.Event,
    rng: random.Random,
    log: bool = True,
) -> WarehouseReport:
    """Every `every_seconds`, a delivery of 6–24 units of one item, until `stop` is set."""
    report = WarehouseReport()
    tick = 0
    while not stop.wait(every_seconds):
        tick += 1
        try:
            code, units = rng.choice(list(item_codes)), rng.randint(6, 24)
            pvx.goods_in(code, SITE, units, f"demo delivery {tick}")
            report.goods_in += 1
            if log:
                print(f"[traffic] goods-in: {units} × {code} at {SITE}", flush=True)
        except (ControlError, httpx.HTTPError) as error:  # the demo goes on; the report says so
            report.errors.append(str(error))
            if log:
                print(f"[traffic] warehouse move refused: {error}", flush=True)
    return report
