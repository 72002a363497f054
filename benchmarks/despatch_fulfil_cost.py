"""What one fulfil step costs per package, deterministically: Shopify points and queries (from the
sandbox's own cost counters), ledger transactions, and packages per second of the step.

No daemon, no Dagster: both sandboxes in this process, the orders flow puts `--orders` orders into
the warehouse, Peoplevox despatches each as one package (every fifth order two lines), the
despatches read records them, then one fulfil step (the library code the asset calls) is measured.
Points are what the sandbox charged (`points_spent:<operation>`, Shopify's calculated cost of what
came back); the ratio line compares the step's points per package with the plan's restore rate
(the API's limit) and with `FulfillmentCreate`'s own 10 points (the least a fulfilment can cost).

    .venv/bin/python benchmarks/despatch_fulfil_cost.py --orders 40
    .venv/bin/python benchmarks/despatch_fulfil_cost.py --orders 200 --latency-ms 300 --max-seconds 10

The second shows a step that cannot send all it reads before its budget (as at a peak): what it
read and did not send is read again next run, so the read's points per package fulfilled go up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.rehearsal.stock_watch import UK
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import PLANS, FaultSettings, ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    LineSpec,
    OrderSpec,
    ProductSpec,
    SandboxControl,
    VariantSpec,
    points_by_operation,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SKUS = ["TEE-BLK-S", "TEE-BLK-M", "TEE-BLK-L", "TEE-WHT-M", "HOODIE-GRY-M", "CAP-NVY"]
PLAN = "plus"


@contextlib.contextmanager
def _shopify_in_process() -> Iterator[tuple[str, int | None]]:
    server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan=PLAN))).start()
    try:
        yield server.url, None
    finally:
        server.stop()


@contextlib.contextmanager
def _shopify_child(port: int) -> Iterator[tuple[str, int | None]]:
    """The Shopify sandbox as its own process, as the daemon benchmark and a deployment run it,
    so the step's CPU and the sandbox's can be told apart (`/proc/<pid>/stat`)."""
    command = [str(Path(sys.executable).parent / "sync-pipeline"), "sandbox", "shopify",
               "--port", str(port), "--plan", PLAN]  # fmt: skip
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError), httpx.Client(timeout=2) as http:
                if http.get(f"{url}/_sandbox/state").status_code == 200:
                    break
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Shopify sandbox did not come up on port {port}")
            time.sleep(0.2)
        yield url, child.pid
    finally:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)


@contextlib.contextmanager
def _profiled(out: Path | None, pids: dict[str, int | None]) -> Iterator[None]:
    """py-spy (pip install py-spy into the venv; not a product dependency) sampling each process
    in `pids` for the duration of the block, as collapsed stacks (`<out>/<name>.txt`, one line a
    stack with its sample count; thread names included)."""
    if out is None:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    children = []
    for name, pid in pids.items():
        if pid:
            command = [spy, "record", "--pid", str(pid), "--format", "raw", "--threads", "--idle",
                       "--rate", "200", "--output", str(out / f"{name}.txt")]  # fmt: skip
            children.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        for child in children:
            child.send_signal(signal.SIGINT)
        for child in children:
            child.wait(timeout=30)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _sandboxes(
    shopify_port: int | None,
) -> Iterator[tuple[SandboxControl, PeoplevoxControl, str, str, int | None]]:
    shopify = _shopify_child(shopify_port) if shopify_port else _shopify_in_process()
    pvx_server = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=1000, window_seconds=1.0))
    ).start()
    try:
        with shopify as (shop_url, shop_pid):
            shop, pvx = SandboxControl(shop_url), PeoplevoxControl(pvx_server.url)
            try:
                yield shop, pvx, shop_url, pvx_server.url, shop_pid
            finally:
                shop.close()
                pvx.close()
    finally:
        pvx_server.stop()


class _Counted:
    """Counts a Ledger's transactions and a ShopifyClient's requests by operation, thread-safely."""

    def __init__(self, ledger: Ledger, client: ShopifyClient) -> None:
        self.transactions = 0
        self.queries: Counter[str] = Counter()
        self._lock = threading.Lock()
        transaction, execute = ledger.transaction, client.execute

        @contextlib.contextmanager
        def counted_transaction() -> Iterator[Any]:
            with self._lock:
                self.transactions += 1
            with transaction() as con:
                yield con

        def counted_execute(operation: str, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.queries[operation] += 1
            return execute(operation, *args, **kwargs)

        ledger.transaction = counted_transaction  # type: ignore[method-assign]
        client.execute = counted_execute  # type: ignore[method-assign]


def measure(
    orders: int,
    data_dir: Path,
    max_seconds: float,
    latency_ms: float,
    shopify_port: int | None = None,
    profile: Path | None = None,
) -> dict[str, Any]:
    with _sandboxes(shopify_port) as (shop, pvx, shop_url, pvx_url, shop_pid):
        for sku in SKUS:
            shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku, price="20.00")]))
        pvx.seed_items([(sku, f"50{i:011d}", sku) for i, sku in enumerate(SKUS)])
        pvx.set_stock([(sku, "PrimarySite", 100_000) for sku in SKUS])
        rules = load_business_rules(REPO_ROOT / "data" / "config").with_orders(hold_window_seconds=0)
        client = ShopifyClient(shop_url, "shpat_sandbox")
        source = ShopifyOrdersSource(client)
        warehouse = PeoplevoxWarehouse(
            PeoplevoxClient(pvx_url, "sandbox", "integration", "sandbox-password",
                            requests_per_window=1000, window_seconds=1.0)
        )  # fmt: skip
        ledger = Ledger(data_dir / "ledger.duckdb")
        placed: dict[str, dict[str, int]] = {}  # sales order number → units per SKU
        for i in range(orders):
            lines = {SKUS[i % len(SKUS)]: 1}
            if i % 5 == 4:
                lines[SKUS[(i + 1) % len(SKUS)]] = 2
            spec = OrderSpec(
                lines=[LineSpec(sku=s, quantity=q) for s, q in lines.items()], shipping_address=UK
            )
            placed[f"SHP-{shop.place_order(spec)['legacy_id']}"] = lines  # the orders flow's numbering
        refresh(source, warehouse, ledger, rules)
        ingest(source, ledger, rules, "bench", datetime.now(UTC))
        release(source, warehouse, ledger, rules, "bench", datetime.now(UTC))
        for number, lines in placed.items():
            pvx.despatch(number, [lines])
        read = read_despatches(
            PeoplevoxDespatches(warehouse.client), ledger, "bench", datetime.now(UTC), timedelta(days=2)
        )
        shop.set_faults(FaultSettings(latency_ms=latency_ms))  # Shopify's answer time, if asked for
        before = points_by_operation(shop.state()["stats"])
        counted = _Counted(ledger, client)
        shop_cpu = _cpu_seconds(shop_pid) if shop_pid else 0.0
        with _profiled(profile, {"step": os.getpid(), "shopify": shop_pid}):
            started, cpu = time.perf_counter(), time.process_time()
            done = fulfil(
                ShopifyStorefront(client), ledger, rules, "bench", max_seconds=max_seconds, settle_seconds=60
            )
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            shop_cpu = _cpu_seconds(shop_pid) - shop_cpu if shop_pid else None
        after = points_by_operation(shop.state()["stats"])
    spent = {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op, 0)}
    packages = max(done.fulfilled, 1)
    points = sum(spent.values())
    restore = PLANS[PLAN][1]
    return {
        "orders": orders,
        "packages_read": read.new_packages,
        "fulfilled": done.fulfilled,
        "caught_up": done.caught_up,
        "left_for_next_run": done.left_for_next_run,
        "orders_planned": done.orders_planned,
        "points_per_package": round(points / packages, 2),
        "points_per_package_by_operation": {op: round(v / packages, 2) for op, v in sorted(spent.items())},
        "queries_per_package": round(sum(counted.queries.values()) / packages, 2),
        "queries_by_operation": dict(sorted(counted.queries.items())),
        "ledger_transactions_per_package": round(counted.transactions / packages, 2),
        "ledger_transactions": counted.transactions,
        "fulfil_seconds": round(elapsed, 2),
        "packages_per_second": round(done.fulfilled / elapsed, 1),
        # CPU per package fulfilled: this process (the step; with the sandbox in it unless
        # --shopify-port), and the Shopify sandbox's own process (--shopify-port only).
        "step_cpu_ms_per_package": round(cpu * 1000 / packages, 2),
        "sandbox_cpu_ms_per_package": None if shop_cpu is None else round(shop_cpu * 1000 / packages, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        # Ratios against the API's limit and against the least a fulfilment can cost.
        "shopify_ceiling_fulfilments_per_minute": round(restore / (points / packages) * 60),
        "points_over_fulfillment_create": round(points / packages / 10, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="the fulfil step's time budget")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="Shopify's added answer time")
    parser.add_argument(
        "--shopify-port", type=int, default=None,
        help="run the Shopify sandbox as its own process on this port (splits the CPU figures)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", type=Path, default=None,
        help="sample the step (and the sandbox's process) with py-spy into this directory",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = measure(
            args.orders, Path(tmp), args.max_seconds, args.latency_ms, args.shopify_port, args.profile
        )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
