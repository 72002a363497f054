"""Stock moving in a Peoplevox sandbox run in this process, watched from Shopify's side.

Shared by `sync-pipeline rehearse` and `benchmarks/stock_flow.py` (b). The Peoplevox sandbox runs
in the watcher's process, so goods-in happen directly on the warehouse (each raises
AvailabilityChanges, delivered over HTTP to the receiver like any callback) and the oversell
sampler reads the warehouse atomically. Shopify is reached over its control API.

Latency of a change: goods-in go to SKUs nobody buys, so their Peoplevox available only rises; a
change is seen once Shopify shows at least its target (available − the SKU's buffer). In peak mode
the product publishes with a larger buffer (`stock_buffers.yaml` `peak.extra_buffer`); which mode a
figure was published in is known only from the ledger and the runs, so the poll takes a change off
its queue at the peak target (the drain's "nothing left") and records each SKU's figures, and the
rehearsal judges every change afterwards with the mode of the push behind each figure
(`stock_judge`). Shoppers buy a separate set of SKUs, so the oversell invariant is exercised where
orders are in flight.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.lib.domain.buffers import buffer_for
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.domain.config.stock_buffers import StockBuffersConfig
from sync_pipeline.lib.flows import catalogue
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_full
from sync_pipeline.lib.ledger import Ledger, stock_levels
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
)

SITE, LOCATION = "PrimarySite", "Warehouse"
UK = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")


@dataclass
class Change:
    sku: str
    at: float  # time.monotonic() when the goods-in was booked
    target: int  # what Shopify must show at least once the change is through (outside peak mode)
    seen_after: float | None = None
    booked_at: datetime | None = None  # naive UTC, to compare with the ledger's push times
    # What Shopify must show at least when the product publishes in peak mode (None: the watcher was
    # given no peak buffers, and `target` alone decides, live).
    peak_target: int | None = None

    def as_record(self) -> dict[str, Any]:
        """The change as the kept working directory records it (`seen_after_s`: None if never seen)."""
        seen = None if self.seen_after is None else round(self.seen_after - self.at, 2)
        return {"sku": self.sku, "booked_at": self.booked_at, "target": self.target,
                "peak_target": self.peak_target, "seen_after_s": seen}  # fmt: skip

    @property
    def least(self) -> int:
        """The lowest figure that can show this change: the poll's test."""
        return self.target if self.peak_target is None else min(self.target, self.peak_target)


@dataclass
class Shared:
    """State the driver, the shoppers, the poller and the sampler share."""

    lock: threading.Lock = field(default_factory=threading.Lock)  # one world move or sample at a time
    stop: threading.Event = field(default_factory=threading.Event)
    pending: dict[str, deque[Change]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    orders: list[tuple[str, str, int]] = field(default_factory=list)  # (number, sku, units)
    samples: int = 0
    violations: list[tuple[str, int, int]] = field(default_factory=list)  # (sku, shown, allowed)
    errors: list[str] = field(default_factory=list)
    # SKU → (first seen at, naive UTC; figure) each time Shopify's figure for a goods-in SKU changed
    shown_history: dict[str, list[tuple[datetime, int]]] = field(default_factory=dict)

    def left(self) -> int:
        """Changes Shopify does not show yet."""
        with self.lock:
            return sum(len(q) for q in self.pending.values())

    def latencies(self) -> list[float]:
        """Seconds from each goods-in to Shopify showing it, for the changes seen."""
        with self.lock:
            return [c.seen_after - c.at for c in self.changes if c.seen_after is not None]

    def unseen(self) -> int:
        """Changes Shopify never showed."""
        with self.lock:
            return sum(1 for c in self.changes if c.seen_after is None)


def shown(shop: SandboxControl) -> dict[str, int]:
    """What Shopify shows available per SKU at the warehouse's location."""
    return {s["sku"]: s["available"] for s in shop.stock() if s["location"] == LOCATION}


def peak_buffers(skus: list[str], config: StockBuffersConfig) -> dict[str, int]:
    """Each goods-in SKU's buffer in peak mode, by the product's rule: these SKUs carry no product
    tags and nobody buys them (no velocity)."""
    return {sku: buffer_for(sku, (), 0.0, config, peak=True).buffer for sku in skus}


def goods_in(warehouse: Any, shared: Shared, skus: list[str], buffers: dict[str, int],
             per_second: float, seconds: float, seed: int, log: Any = None,
             in_peak: dict[str, int] | None = None) -> None:  # fmt: skip
    """Goods booked in at an even pace on random `skus` (+1…5 units each) for `seconds`.
    `buffers`: each SKU's buffer outside peak mode; `in_peak`: in peak mode (None: not watched)."""
    rng = random.Random(seed)
    started = time.monotonic()
    total = round(per_second * seconds)
    for n in range(total):
        time.sleep(max(0.0, started + n / per_second - time.monotonic()))
        if shared.stop.is_set():
            break
        sku = rng.choice(skus)
        with shared.lock:
            warehouse.goods_in(sku, SITE, rng.randint(1, 5), f"goods-in-{n}")
            available = warehouse.level(sku, SITE).available
            change = Change(
                sku,
                time.monotonic(),
                max(0, available - buffers.get(sku, 0)),
                booked_at=_utc_now(),
                peak_target=None if in_peak is None else max(0, available - in_peak.get(sku, 0)),
            )
            shared.pending.setdefault(sku, deque()).append(change)
            shared.changes.append(change)
    if log:
        log(f"goods-in done: {total} changes in {time.monotonic() - started:.0f}s")


def shoppers(shop_url: str, shared: Shared, skus: list[str], per_minute: float, seconds: float,
             seed: int) -> None:  # fmt: skip
    """Orders on `skus` at a steady pace; checkout refuses what Shopify does not show."""
    rng = random.Random(seed)
    shop = SandboxControl(shop_url, timeout=60.0)
    started, n = time.monotonic(), 0
    while time.monotonic() - started < seconds and not shared.stop.is_set():
        time.sleep(max(0.0, started + n * 60.0 / per_minute - time.monotonic()))
        n += 1
        sku, units = rng.choice(skus), rng.randint(1, 2)
        with shared.lock:
            on_sale = shown(shop)
            if on_sale.get(sku, 0) < units:
                continue
            try:
                order = shop.place_order(
                    OrderSpec(lines=[LineSpec(sku=sku, quantity=units)], shipping_address=UK)
                )
            except Exception as error:  # counted and reported; the run goes on
                shared.errors.append(f"order: {error}")
                continue
            shared.orders.append((f"SHP-{order['legacy_id']}", sku, units))
    shop.close()


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def poll(shop_url: str, shared: Shared, every: float) -> None:
    """Marks each change seen once Shopify shows its target (the lower of its two targets when it
    has a peak one: `stock_judge` decides afterwards), and records each watched SKU's figures."""
    shop = SandboxControl(shop_url, timeout=60.0)
    while not shared.stop.is_set():
        try:
            on_sale = shown(shop)
        except Exception as error:  # the sandbox was busy; next round
            shared.errors.append(f"poll: {error}")
            time.sleep(every)
            continue
        now, wall = time.monotonic(), _utc_now()
        with shared.lock:
            for sku, queue in shared.pending.items():
                history = shared.shown_history.setdefault(sku, [])
                if not history or history[-1][1] != on_sale.get(sku, 0):
                    history.append((wall, on_sale.get(sku, 0)))
                while queue and on_sale.get(sku, 0) >= queue[0].least:
                    queue.popleft().seen_after = now
        time.sleep(every)
    shop.close()


def awaiting_units(orders: list[tuple[str, str, int]], status: dict[str, str]) -> Counter[str]:
    """Units per SKU on orders Peoplevox has not allocated (not there yet, or New)."""
    awaiting: Counter[str] = Counter()
    for number, sku, units in orders:
        if status.get(number) in (None, "New"):
            awaiting[sku] += units
    return awaiting


def sample(
    warehouse: Any, shop_url: str, shared: Shared, every: float, only: frozenset[str] | None = None
) -> None:
    """Shopify available ≤ Peoplevox available − units on orders Peoplevox has not allocated.
    `only`: the SKUs to check (where every order in flight is one of `shared.orders`); None: all."""
    shop = SandboxControl(shop_url, timeout=60.0)
    while not shared.stop.wait(every):
        with shared.lock:  # no goods-in and no sale while both sides are read
            with warehouse.lock:  # Peoplevox first, atomically: allocations move nothing that counts
                available = {
                    code: lv.available for (code, site), lv in warehouse.stock.items() if site == SITE
                }
                status = {number: order.status for number, order in warehouse.orders.items()}
            try:
                on_sale = shown(shop)
            except Exception as error:  # the sandbox was busy; next round
                shared.errors.append(f"sample: {error}")
                continue
            awaiting = awaiting_units(shared.orders, status)
        shared.samples += 1
        for sku, value in on_sale.items():
            if only is not None and sku not in only:
                continue
            allowed = max(0, available.get(sku, 0) - awaiting[sku])
            if value > allowed:
                shared.violations.append((sku, value, allowed))
    shop.close()


def seed(
    shop_url: str, warehouse: Any, skus: list[str], on_hand: int = 50, barcode_prefix: str = "50"
) -> None:
    """`skus` as Shopify products (ten variants each) and Peoplevox item types with stock."""
    shop = SandboxControl(shop_url, timeout=120.0)
    for start in range(0, len(skus), 10):
        shop.add_product(ProductSpec(title=f"Product {skus[start]}",
                                     variants=[VariantSpec(sku=s, price="12.00") for s in skus[start : start + 10]]))  # fmt: skip
    shop.close()
    for i, sku in enumerate(skus):
        warehouse.upsert_item(sku, f"{barcode_prefix}{i:011d}", sku)
        warehouse.set_stock(sku, SITE, on_hand)


def baseline(shopify_url: str, pvx_url: str, ledger_path: Any, config: Any, token: str, password: str,
             subscribe_to: Any = None) -> dict[str, int]:  # fmt: skip
    """Catalogue and a first full reconcile with the flows' own code; the buffers it used.
    `subscribe_to`: Wanted Peoplevox subscriptions to register first (None: none)."""
    rules = load_business_rules(config)
    ledger = Ledger(ledger_path)
    with (
        ShopifyClient(shopify_url, token) as client,
        PeoplevoxClient(pvx_url, "sandbox", "integration", password, 10_000, 1.0) as c,
    ):
        for wanted in subscribe_to or ():
            if wanted.system == "peoplevox":
                c.subscribe_event(wanted.topic, wanted.url)
        catalogue.refresh(ShopifyOrdersSource(client), PeoplevoxWarehouse(c), ledger, rules)
        now = datetime.now(UTC)
        take_full(PeoplevoxStock(c), ledger, rules, now, run_id="baseline")
        push(ShopifyStock(client), ledger, rules, now, run_id="baseline")
    with ledger.transaction() as con:
        return {sku: p.buffer for (sku, _), p in stock_levels.positions(con).items()}
