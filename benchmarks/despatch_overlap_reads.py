"""Peoplevox requests the despatch read spends at a peak, with the overlap read again every run
(before) and read again only when Peoplevox counts other rows there than the last read saw (after).

One process, no daemon: the Peoplevox sandbox over real HTTP on 127.0.0.1, a real ledger file, the
despatches flow's own `read_despatches` through the real port (`PeoplevoxDespatches`, pages of
1,000 rows). Sales orders are saved to the sandbox, then despatched at `--packages-per-minute`
(`--items-per-package` report rows each) on the sandbox's clock, a read every `--run-every`
seconds of it, as the sensor launches them. "Before" is the same code with the count skipped
(`_overlap_unchanged` answering "changed"), which is the read as it was. Prints the Despatch
summary requests of each, per 100 packages and per minute against the limiter (60 a minute at
15 requests / 15 s), and their ratio; and checks that both reads recorded every package.

    .venv/bin/python benchmarks/despatch_overlap_reads.py
    .venv/bin/python benchmarks/despatch_overlap_reads.py --packages-per-minute 1500 --minutes 4 --json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync_pipeline.lib.flows.despatches import read  # noqa: E402
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches  # noqa: E402
from sync_pipeline.lib.ledger import Ledger  # noqa: E402
from sync_pipeline_tests.peoplevox.conftest import running_sandbox  # noqa: E402

REPORT_READS = "GetReportData Despatch summary"
CODES = [f"BENCH-{i:02d}" for i in range(20)]


def _orders(count: int, items: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    headers = [
        {"SalesOrderNumber": f"BENCH{n:06d}", "Customer": "Bench", "Site": "PrimarySite"}
        for n in range(count)
    ]
    lines = [
        {"SalesOrderNumber": h["SalesOrderNumber"], "ItemCode": CODES[(n + i) % len(CODES)],
         "QuantityOrdered": 1, "Line": str(i + 1)}
        for n, h in enumerate(headers) for i in range(items)
    ]  # fmt: skip
    return headers, lines


def one_mode(mode: str, args: argparse.Namespace, data_dir: Path) -> dict[str, Any]:
    per_run = round(args.packages_per_minute * args.run_every / 60)
    runs = round(args.minutes * 60 / args.run_every)
    headers, lines = _orders(per_run * runs, args.items_per_package)
    with (
        running_sandbox(requests_per_window=100_000) as box,
        box.client(requests_per_window=100_000) as client,
    ):
        box.control.seed_items([(c, f"77{i:011d}", c) for i, c in enumerate(CODES)])
        box.control.set_stock([(c, "PrimarySite", 1_000_000) for c in CODES])
        for start in range(0, len(headers), 500):
            client.save_data("Sales orders", headers[start : start + 500])
        for start in range(0, len(lines), 1000):
            client.save_data("Sales order items", lines[start : start + 1000])
        source, ledger = PeoplevoxDespatches(client), Ledger(data_dir / f"{mode}.duckdb")
        queue = iter(headers)
        skip = mock.patch.object(read, "_overlap_unchanged", lambda *_: {}) if mode == "before" else None
        if skip:
            skip.start()
        try:
            before = box.control.state().counters.requests_by_name.get(REPORT_READS, 0)
            started = time.perf_counter()
            for _ in range(runs):
                for _ in range(per_run):
                    number = next(queue)["SalesOrderNumber"]
                    codes = [CODES[(int(number[5:]) + i) % len(CODES)] for i in range(args.items_per_package)]
                    box.control.despatch(number, [dict.fromkeys(codes, 1)])
                box.control.advance(args.run_every)
                read.read_despatches(source, ledger, "bench", datetime.now(UTC), timedelta(days=2))
            seconds = time.perf_counter() - started
            requests = box.control.state().counters.requests_by_name.get(REPORT_READS, 0) - before
        finally:
            if skip:
                skip.stop()
        with ledger.transaction() as con:
            recorded = con.execute("SELECT count(*) FROM despatch_packages").fetchone()[0]
    packages = per_run * runs
    return {
        "packages": packages,
        "recorded": recorded,
        "reads": runs,
        "requests": requests,
        "requests_per_100_packages": round(requests / packages * 100, 3),
        "requests_per_minute": round(requests / args.minutes, 1),
        "share_of_limiter": round(requests / (args.minutes * args.limit_per_minute), 3),
        "seconds": round(seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packages-per-minute", type=int, default=1500)
    parser.add_argument("--items-per-package", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=4)
    parser.add_argument("--run-every", type=float, default=15.0, help="seconds between reads (sensor: 15)")
    parser.add_argument("--limit-per-minute", type=float, default=60.0, help="Peoplevox limiter (15 / 15 s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {mode: one_mode(mode, args, Path(tmp)) for mode in ("before", "after")}
    b, a = out["before"], out["after"]
    out["after_over_before"] = round(a["requests"] / b["requests"], 3) if b["requests"] else None
    print(
        f"{args.packages_per_minute} packages/min × {args.items_per_package} rows for {args.minutes:g} min, "
        f"a read every {args.run_every:g} s ({b['reads']} reads)"
    )
    for mode in ("before", "after"):
        r = out[mode]
        print(
            f"{mode:>6}: {r['requests']} Despatch summary requests = {r['requests_per_100_packages']} per 100 packages,"
            f" {r['requests_per_minute']}/min = {r['share_of_limiter']} of the limiter;"
            f" {r['recorded']}/{r['packages']} packages recorded ({r['seconds']} s)"
        )
    print(f"after ÷ before: {out['after_over_before']}")
    if args.json:
        print(json.dumps(out))
    if any(out[m]["recorded"] != out[m]["packages"] for m in ("before", "after")):
        sys.exit("a package was not recorded")


if __name__ == "__main__":
    main()
