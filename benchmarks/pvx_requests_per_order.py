"""Peoplevox requests per order on the orders path, by kind, deterministically (no daemon, no sockets).

The orders flow's own functions (ingest, release, status runs) on one virtual clock, against the
Peoplevox sandbox's Integration Service and warehouse floor in this process (through the real
port, `PeoplevoxWarehouse`, as the flow tests drive it: `sync_pipeline_tests/flows/standins`)
and an in-memory Shopify. Each release and status run talks through a real `PeoplevoxClient` of
its own, built by the Dagster resource as in a run's process (its SOAP handed to the sandbox
service in process by an httpx transport), so `Authenticate` is counted as the runs send it. Orders of the rehearsal's shape arrive at `--orders-per-minute`: 1-4
lines of 1-2 units, some edited or cancelled inside the hold, a few edited or cancelled after
they reached Peoplevox. Runs come at fixed virtual intervals (ingest, release, status), the floor
moves orders on as the rehearsal's does (allocation 10 s, picking 15 s, packing 10 s, despatch
15 s), and every request the service answers is counted by operation and template or report: a
request is what the limiter counts, whatever its rows.

Prints requests per 100 orders by kind, rows per SaveData request by template, and the ceiling
they allow under the limiter (`--requests-per-minute`, 60 for 15 requests / 15 s): orders a
minute = limit / requests an order. `--rows` overrides `injection_batch_rows` (orders.yaml).

    .venv/bin/python benchmarks/pvx_requests_per_order.py
    .venv/bin/python benchmarks/pvx_requests_per_order.py --orders 2000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from sync_pipeline.defs.resources import PeoplevoxResource  # noqa: E402
from sync_pipeline.lib.flows.orders import state  # noqa: E402
from sync_pipeline.lib.ledger import orders as ledger_orders  # noqa: E402
from sync_pipeline.lib.peoplevox import PeoplevoxClient  # noqa: E402
from sync_pipeline.lib.peoplevox.pacer import RequestPacer  # noqa: E402
from sync_pipeline.sandbox.peoplevox.service import IntegrationService, request_name  # noqa: E402
from sync_pipeline.sandbox.peoplevox.soap import SoapFault, parse_request, render_fault, render_response  # noqa: E402
from sync_pipeline_tests.domain.factories import T0  # noqa: E402
from sync_pipeline_tests.flows.standins.world import ITEM_CODES, World  # noqa: E402

FLOOR_SECONDS = (10.0, 15.0, 10.0, 15.0)  # the rehearsal's floor: allocation, picking, packing, despatch
STEP = 5.0  # virtual seconds per tick


def _service_transport(
    service: IntegrationService, client_id: str, counts: Counter[str]
) -> httpx.MockTransport:
    """The sandbox's ASMX endpoint in process: SOAP in, SOAP out, every request counted by
    operation and template/report (a request is what the limiter counts, whatever its rows)."""

    def handle(request: httpx.Request) -> httpx.Response:
        try:
            soap = parse_request(request.content, request.headers.get("soapaction"))
        except SoapFault as fault:
            return httpx.Response(500, content=render_fault(fault))
        template = soap.params.get("TemplateName")
        counts[request_name(soap)] += 1  # as the sandbox's own `requests_by_name` counts it
        if soap.operation == "SaveData":
            rows = max(
                0, len([line for line in str(soap.params.get("CsvData") or "").splitlines() if line]) - 1
            )
            counts[f"rows: SaveData {template}"] += rows
        return httpx.Response(200, content=render_response(soap.operation, service.handle(client_id, soap)))

    return httpx.MockTransport(handle)


def _run_client(world: World, transport: httpx.MockTransport, data_dir: Path) -> PeoplevoxClient:
    """A run's own client, built by the Dagster resource as in the run's process (pacer file,
    shared session and all), then pointed at the sandbox in process and left unpaced: the
    benchmark counts requests on a virtual clock."""
    config = world.pvx.state.config
    resource = PeoplevoxResource(
        base_url="http://pvx.invalid",
        client_id=config.client_id,
        username=config.username,
        password=config.password,
        requests_per_window=config.requests_per_window,
        window_seconds=config.window_seconds,
        pacer_dir=str(data_dir),
    )
    client = resource.get_client(urgent=True)
    client.close()
    client._http = httpx.Client(transport=transport)
    client.pacer = RequestPacer(10**6, 1.0)
    return client


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    counts: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="pvx-requests-") as tmp:
        world = World(Path(tmp), T0, hold_seconds=args.hold)
        if args.rows:
            world.rules = world.rules.with_orders(injection_batch_rows=args.rows)
        floor = world.pvx.warehouse.settings
        floor.allocation_delay, floor.picking_after, floor.packing_after, floor.despatch_after = FLOOR_SECONDS
        floor.allocation_retry = 5.0
        world.pvx.state.limiter.configure(10**6, 1.0)  # counted here, not refused
        transport = _service_transport(
            IntegrationService(world.pvx.state), world.pvx.state.config.client_id, counts
        )

        def in_own_process(step: Callable[[], object]) -> None:
            with _run_client(world, transport, Path(tmp)) as client:
                world.pvx.client = client  # type: ignore[assignment]
                step()

        per_step = args.orders_per_minute * STEP / 60
        placed: list[tuple[str, float]] = []  # (order id, placed at virtual second)
        in_hold_done: set[str] = set()
        late: dict[str, str] = {}  # order id → "edit" / "cancel" once in the warehouse
        runs: Counter[str] = Counter()
        clock = 0.0
        owed = 0.0
        started = time.monotonic()
        sale_end = args.orders / args.orders_per_minute * 60
        while clock < sale_end + args.drain:
            owed += per_step if len(placed) < args.orders else 0
            while owed >= 1 and len(placed) < args.orders:
                owed -= 1
                codes = rng.sample(ITEM_CODES, rng.randint(1, 4))
                oid = world.shop.place([(code, rng.randint(1, 2)) for code in codes])
                placed.append((oid, clock))
                roll = rng.random()
                if roll < args.late_cancel_share:
                    late[oid] = "cancel"
                elif roll < args.late_cancel_share + args.late_edit_share:
                    late[oid] = "edit"
            for oid, at in placed:  # edits and cancellations inside the hold, half-way through it
                if oid in in_hold_done or clock - at < args.hold / 2:
                    continue
                in_hold_done.add(oid)
                roll = rng.random()
                if roll < args.cancel_share:
                    world.shop.cancel(oid)
                elif roll < args.cancel_share + args.edit_share:
                    world.shop.set_quantity(oid, rng.choice(ITEM_CODES), 1)
            with world.ledger.transaction() as con:
                rows = ledger_orders.get_many(con, list(late))
            for oid, action in list(late.items()):
                if oid not in rows or rows[oid].state != state.IN_WAREHOUSE:
                    continue
                del late[oid]
                if action == "cancel":
                    world.shop.cancel(oid)
                else:
                    world.shop.set_quantity(oid, rng.choice(ITEM_CODES), 2)
            tick = round(clock / STEP)
            if tick % round(args.ingest_every / STEP) == 0:
                world.ingest()
                runs["ingest"] += 1
            if tick % round(args.release_every / STEP) == 0:
                in_own_process(world.release)
                runs["release"] += 1
            if tick % round(args.status_every / STEP) == 0:
                in_own_process(world.statuses)
                runs["status"] += 1
            world.tick(STEP)
            world.pvx.warehouse.advance(STEP)
            clock += STEP
        with world.ledger.transaction() as con:
            states = ledger_orders.state_counts(con)
            final = sum(
                row.pvx_status in ("Despatched", "Cancelled")
                for row in ledger_orders.get_many(con, [oid for oid, _ in placed]).values()
            )
        elapsed = time.monotonic() - started
    orders = len(placed)
    rows = {k.removeprefix("rows: "): v for k, v in counts.items() if k.startswith("rows: ")}
    requests = {k: v for k, v in counts.items() if not k.startswith("rows: ")}
    total = sum(requests.values())
    per_order = total / orders
    return {
        "orders": orders,
        "requests": dict(sorted(requests.items())),
        "requests_per_100_orders": {k: round(v * 100 / orders, 2) for k, v in sorted(requests.items())},
        "rows_per_save": {k: round(v / requests[k], 1) for k, v in sorted(rows.items()) if requests.get(k)},
        "total_per_100_orders": round(per_order * 100, 2),
        "ceiling_orders_per_minute": round(args.requests_per_minute / per_order) if per_order else None,
        "states": states,
        "final_status_recorded": final,
        "runs": dict(runs),
        "seconds": round(elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--orders-per-minute", type=float, default=1500)
    parser.add_argument("--hold", type=int, default=30, help="hold window, seconds")
    parser.add_argument("--edit-share", type=float, default=0.03, help="edited inside the hold")
    parser.add_argument("--cancel-share", type=float, default=0.02, help="cancelled inside the hold")
    parser.add_argument("--late-edit-share", type=float, default=0.01, help="edited once in Peoplevox")
    parser.add_argument("--late-cancel-share", type=float, default=0.005, help="cancelled once in Peoplevox")
    parser.add_argument("--ingest-every", type=float, default=15)
    parser.add_argument("--release-every", type=float, default=30)
    parser.add_argument("--status-every", type=float, default=60)
    parser.add_argument("--drain", type=float, default=300, help="virtual seconds after the last order")
    parser.add_argument("--requests-per-minute", type=float, default=60, help="the limiter: 15 / 15 s = 60")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=0, help="injection_batch_rows (0: orders.yaml's)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['orders']} orders, runs {result['runs']}, {result['seconds']} s")
    print(f"{'kind':<40} {'requests':>9} {'per 100 orders':>15}")
    for kind, n in result["requests"].items():
        print(f"{kind:<40} {n:>9} {result['requests_per_100_orders'][kind]:>15.2f}")
    print(f"{'total':<40} {sum(result['requests'].values()):>9} {result['total_per_100_orders']:>15.2f}")
    print("rows per SaveData request: " + ", ".join(f"{k} {v:g}" for k, v in result["rows_per_save"].items()))
    print(
        f"ceiling at {args.requests_per_minute:g} requests/min: {result['ceiling_orders_per_minute']} orders/min "
        f"(÷ {args.orders_per_minute:g} offered = "
        f"{(result['ceiling_orders_per_minute'] or 0) / args.orders_per_minute:.2f})"
    )
    print(
        f"ledger states {result['states']}; final Peoplevox status recorded for {result['final_status_recorded']}"
    )


if __name__ == "__main__":
    main()
