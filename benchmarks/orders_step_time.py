"""Where the release step and the status step spend their time: the ledger, the APIs, the rest.

Both steps hold the `peoplevox_orders` pool for their whole length, so every second they spend off
Peoplevox's requests is a second the other of the two may not run. This drives the orders flow's
own functions (`release`, `read_statuses`) on the stand-ins the flow tests use
(`sync_pipeline_tests/flows/standins`: a real DuckDB ledger file opened afresh for every
transaction as in production, the Peoplevox sandbox's Integration Service in this process, an
in-memory Shopify), so what is timed is our code and the ledger, not HTTP or the limiter:

1. `--background` orders are placed, released and despatched first (a ledger that is not empty);
2. `--orders` orders are placed, ingested and come due; one release step is timed;
3. the warehouse allocates every one of them; one status step is timed (the report read by modification time).

For each step: seconds a due order, ledger transactions and statements per 100 orders, seconds
inside ledger transactions (open, statements, commit, close), seconds inside the API ports'
requests (the in-process sandboxes: they stand for HTTP), and the rest (translation, parsing).

    .venv/bin/python benchmarks/orders_step_time.py
    .venv/bin/python benchmarks/orders_step_time.py --orders 300 --background 2000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_pipeline.lib.ledger import orders as ledger_orders  # noqa: E402
from sync_pipeline.lib.ledger.connection import LedgerConnection  # noqa: E402
from sync_pipeline_tests.domain.factories import T0  # noqa: E402
from sync_pipeline_tests.flows.standins.world import ITEM_CODES, World  # noqa: E402


@dataclass
class Tally:
    transactions: int = 0
    statements: int = 0
    ledger_seconds: float = 0.0
    api_seconds: float = 0.0
    api_calls: Counter[str] = field(default_factory=Counter)
    callers: Counter[str] = field(default_factory=Counter)


class _CountingConnection:
    """A DuckDB connection that counts the statements run through it."""

    def __init__(self, con: Any, tally: Tally) -> None:
        self._con, self._tally = con, tally

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql != "SELECT 1":  # `bulk.staged`'s flush before a register, not a statement of the flow
            self._tally.statements += 1
        return self._con.execute(sql, *args, **kwargs)

    def executemany(self, sql: str, params: Any) -> Any:
        self._tally.statements += len(params)  # DuckDB runs it once per parameter row
        return self._con.executemany(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


TALLY = Tally()


def _instrument(world: World) -> None:
    original = LedgerConnection.transaction

    @contextmanager
    def counted(self: LedgerConnection) -> Iterator[Any]:
        started = time.perf_counter()
        frame = sys._getframe(2)
        while "/lib/ledger/" in frame.f_code.co_filename or frame.f_code.co_filename.endswith(
            "contextlib.py"
        ):
            frame = frame.f_back  # type: ignore[assignment]
        TALLY.callers[f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"] += 1
        try:
            with original(self) as con:
                TALLY.transactions += 1
                yield _CountingConnection(con, TALLY)
        finally:
            TALLY.ledger_seconds += time.perf_counter() - started

    LedgerConnection.transaction = counted  # type: ignore[method-assign]

    def timed(owner: Any, name: str) -> None:
        call: Callable[..., Any] = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                result = call(*args, **kwargs)
                if hasattr(result, "__next__"):  # a generator: its pages are requests too
                    result = list(result)
                return result
            finally:
                TALLY.api_seconds += time.perf_counter() - started
                TALLY.api_calls[name] += 1

        setattr(owner, name, wrapper)

    for name in ("save_data", "iter_data", "get_report_data"):
        timed(world.pvx.client, name)  # type: ignore[attr-defined]
    for name in ("orders_by_ids", "order_versions", "customer_tags", "order_changes_since"):
        timed(world.shop, name)


def _place(world: World, rng: random.Random, n: int) -> list[str]:
    return [
        world.shop.place([(code, rng.randint(1, 2)) for code in rng.sample(ITEM_CODES, rng.randint(1, 4))])
        for _ in range(n)
    ]


def _measure(step: Callable[[], Any], orders: int) -> dict[str, Any]:
    before = Tally(
        TALLY.transactions,
        TALLY.statements,
        TALLY.ledger_seconds,
        TALLY.api_seconds,
        Counter(TALLY.api_calls),
        Counter(TALLY.callers),
    )
    cpu, started = time.process_time(), time.perf_counter()
    result = step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    ledger = TALLY.ledger_seconds - before.ledger_seconds
    api = TALLY.api_seconds - before.api_seconds
    transactions = TALLY.transactions - before.transactions
    return {
        "orders": orders,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "ms_per_order": round(seconds * 1000 / orders, 2),
        "ledger_seconds": round(ledger, 3),
        "ledger_share": round(ledger / seconds, 3),
        "api_seconds": round(api, 3),
        "rest_seconds": round(seconds - ledger - api, 3),
        "transactions": transactions,
        "transactions_per_100_orders": round(transactions * 100 / orders, 1),
        "statements_per_100_orders": round((TALLY.statements - before.statements) * 100 / orders, 1),
        "ms_per_transaction": round(ledger * 1000 / transactions, 1) if transactions else None,
        "api_calls": dict(TALLY.api_calls - before.api_calls),
        "transactions_by_caller": dict((TALLY.callers - before.callers).most_common()),
        "result": result,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="orders-step-time-") as tmp:
        world = World(Path(tmp), T0, hold_seconds=30)
        floor = world.pvx.warehouse.settings
        floor.allocation_delay = 10.0
        _instrument(world)
        for start in range(0, args.background, 500):  # a ledger that is not empty, in release-sized bites
            _place(world, rng, min(500, args.background - start))
            world.release_due()
            world.tick(60)
            world.pvx.warehouse.advance(60)
            world.statuses()
        world.pvx.warehouse.advance(3600)
        world.statuses()
        measured = _place(world, rng, args.orders)
        world.ingest()
        world.tick(world.rules.orders.hold_window_seconds + 1)
        release = _measure(
            lambda: {k: v for k, v in world.release().summary.items() if isinstance(v, int) and v},
            args.orders,
        )
        world.tick(30)
        with world.ledger.transaction() as con:
            numbers = [r.sales_order_number for r in ledger_orders.get_many(con, measured).values()]
        for number in numbers:  # the floor allocates every one of them
            world.pvx.progress(number or "", "Allocated")
        statuses = _measure(lambda: _status_summary(world), args.orders)
    return {"release": release, "statuses": statuses, "background": args.background, "load": os.getloadavg()}


def _status_summary(world: World) -> dict[str, Any]:
    report = world.statuses()
    return {"changed": report.changed, "from_report": report.from_report, "polled": report.polled}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--orders", type=int, default=300, help="orders due in the timed release step")
    parser.add_argument("--background", type=int, default=1000, help="orders released and despatched before")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = parser.parse_args()
    result = run(args)
    if args.json:
        print(json.dumps(result))
        return
    print(f"{args.orders} orders, {args.background} before them; load {result['load'][0]:.2f}")
    for name in ("release", "statuses"):
        r = result[name]
        print(
            f"{name:<9} {r['seconds']:7.2f} s ({r['ms_per_order']:.1f} ms an order, cpu {r['cpu_seconds']:.2f} s): "
            f"ledger {r['ledger_seconds']:.2f} s ({r['ledger_share']:.0%}), APIs {r['api_seconds']:.2f} s, "
            f"rest {r['rest_seconds']:.2f} s; {r['transactions']} transactions "
            f"({r['transactions_per_100_orders']} per 100 orders, {r['ms_per_transaction']} ms each), "
            f"{r['statements_per_100_orders']} statements per 100 orders"
        )
        print(f"          {r['result']}; API calls {r['api_calls']}")
        print(f"          transactions by caller {r['transactions_by_caller']}")


if __name__ == "__main__":
    main()
