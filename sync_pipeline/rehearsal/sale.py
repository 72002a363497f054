"""A flash sale placed through the Shopify sandbox's control API, evenly paced, with threads.

Shared by `sync-pipeline rehearse` and `benchmarks/orders_flow.py`. Every kind in `SALE_MIX` is
paid, shippable and fully mapped, so every order must reach Peoplevox exactly once; a share of
orders is edited or cancelled inside the hold window (the edit must reach Peoplevox with the
order; the cancelled order must never be live there).
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.sandbox.traffic import Catalogue, FollowUp, Hands, apply_follow_up, make_order

SALE_MIX: dict[str, int] = {
    "single": 40,
    "multi_line": 22,
    "config_bundle": 10,
    "native_bundle": 8,
    "b2b": 8,
    "unicode_address": 6,
    "hostile_address": 6,
}


@dataclass
class Placed:
    number: str  # the SalesOrderNumber the product must create: SHP-<legacy id>
    name: str
    kind: str
    placed_at: datetime  # when the request was sent; naive UTC, as the ledger stores times
    order_id: str = ""


@dataclass
class Sale:
    planned: int
    placed: list[Placed] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    follow_ups: dict[str, int] = field(default_factory=dict)  # action → done
    started_at: float = 0.0
    finished_at: float = 0.0
    max_lag_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.finished_at - self.started_at, 1e-9)


def sale_kinds(
    rng: random.Random, count: int, edit_share: float = 0.0, cancel_share: float = 0.0
) -> list[str]:
    """`count` kinds: SALE_MIX by weight, with `edit_share` edited and `cancel_share` cancelled
    inside the hold window."""
    kinds = rng.choices(list(SALE_MIX), weights=list(SALE_MIX.values()), k=count)
    for i in range(count):
        roll = rng.random()
        if roll < cancel_share:
            kinds[i] = "cancel_in_hold"
        elif roll < cancel_share + edit_share:
            kinds[i] = "edit_in_hold"
    return kinds


class FollowUps:
    """Edits and cancellations due after their order was placed, done by one thread."""

    def __init__(self, shop_url: str, sale: Sale, lock: threading.Lock) -> None:
        self._shop = SandboxControl(shop_url, timeout=30.0)
        self._sale, self._lock = sale, lock
        self._due: list[tuple[float, int, str, FollowUp]] = []
        self._cv = threading.Condition()
        self._seq = itertools.count()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="follow-ups", daemon=True)
        self._thread.start()

    def add(self, order_id: str, follow_up: FollowUp) -> None:
        with self._cv:
            heapq.heappush(
                self._due, (time.monotonic() + follow_up.delay_seconds, next(self._seq), order_id, follow_up)
            )
            self._cv.notify()

    def close(self) -> None:
        """Do what is still due, then stop."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout=600)
        self._shop.close()

    def _run(self) -> None:
        hands = Hands(self._shop)
        while True:
            with self._cv:
                while not self._due or self._due[0][0] > time.monotonic():
                    if self._closing and not self._due:
                        return
                    self._cv.wait(timeout=(self._due[0][0] - time.monotonic()) if self._due else 1.0)
                _, _, order_id, follow_up = heapq.heappop(self._due)
            try:
                snapshot = self._shop.get_order(order_id)
                apply_follow_up(hands, order_id, snapshot, follow_up)
                with self._lock:
                    self._sale.follow_ups[follow_up.action] = (
                        self._sale.follow_ups.get(follow_up.action, 0) + 1
                    )
            except Exception as error:  # counted and reported; the sale goes on
                with self._lock:
                    self._sale.errors.append(f"{follow_up.action} {order_id}: {error}")


def run_sale(
    shop_url: str,
    catalogue: Catalogue,
    orders_per_minute: float,
    minutes: float,
    hold_seconds: int,
    seed: int,
    workers: int,
    *,
    edit_share: float = 0.0,
    cancel_share: float = 0.0,
    stop: threading.Event | None = None,
    log: Callable[[str], None] | None = None,
    sale: Sale | None = None,
) -> Sale:
    """Place `orders_per_minute × minutes` orders at evenly spaced instants; bounded in time.
    Returns once every order is placed and every edit and cancellation done. `sale`: the record
    to fill as it goes (others may read it meanwhile)."""
    rng = random.Random(seed)
    count = round(orders_per_minute * minutes)
    specs = [
        make_order(rng, catalogue, k, hold_seconds) for k in sale_kinds(rng, count, edit_share, cancel_share)
    ]
    interval = 60.0 / orders_per_minute
    give_up_at = minutes * 60.0 + 120.0  # stop placing if the sandbox cannot take the rate
    sale = sale or Sale(planned=0)
    sale.planned = count
    lock = threading.Lock()
    local = threading.local()
    controls: list[SandboxControl] = []
    follow_ups = FollowUps(shop_url, sale, lock)

    def control() -> SandboxControl:
        if not hasattr(local, "shop"):
            local.shop = SandboxControl(shop_url, timeout=30.0)
            with lock:
                controls.append(local.shop)
        return local.shop

    def place(index: int) -> None:
        spec = specs[index]
        order = spec.order.model_copy(update={"tags": ["flash-sale", spec.kind]})
        sent_at = datetime.now(UTC).replace(tzinfo=None)
        try:
            snapshot = control().place_order(order)
        except Exception as error:  # counted and reported; the sale goes on
            with lock:
                sale.errors.append(f"{spec.kind}: {error}")
            return
        placed = Placed(
            f"SHP-{snapshot['legacy_id']}", str(snapshot["name"]), spec.kind, sent_at, str(snapshot["id"])
        )
        with lock:
            sale.placed.append(placed)
        for follow_up in spec.follow_ups:
            follow_ups.add(placed.order_id, follow_up)

    futures: list[Future[None]] = []
    sale.started_at = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="placer") as pool:
        for index in range(count):
            if stop is not None and stop.is_set():
                sale.errors.append(f"stopped: {count - index} not placed")
                break
            due = sale.started_at + index * interval
            now = time.monotonic()
            if now - sale.started_at > give_up_at:
                sale.errors.append(f"gave up placing after {give_up_at:.0f}s: {count - index} not placed")
                break
            if due > now:
                time.sleep(due - now)
            else:
                sale.max_lag_seconds = max(sale.max_lag_seconds, now - due)
            # Back-pressure: never queue more than a second's worth of orders ahead of the workers.
            while sum(1 for f in futures[-workers * 4 :] if not f.done()) >= workers * 2:
                time.sleep(0.005)
            futures.append(pool.submit(place, index))
            if log and index and index % max(1, int(orders_per_minute)) == 0:
                log(f"sale: {index}/{count} submitted, {len(sale.errors)} error(s)")
    sale.finished_at = time.monotonic()
    follow_ups.close()
    for c in controls:
        c.close()
    return sale
