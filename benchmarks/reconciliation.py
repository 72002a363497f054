"""Finance reconciliation at scale: a month of 1,000,000 orders, reconciled and exported.

    .venv/bin/python benchmarks/reconciliation.py [--orders 1000000] [--days 31] [--keep]
        [--ledger PATH] [--baseline REF --rounds N]

1. Synthesises (untimed, in a child process) a ledger of `--orders` orders placed over `--days`
   days with 1-3 shippable lines each, in two currencies, with despatched packages (some short,
   some over), authorisations left uncaptured, partial and full refunds (RETURN, CANCEL,
   NO_RESTOCK), warehouse returns and cancellations, straight into the ledger's tables.
   `--ledger PATH` reuses a ledger synthesised before (`--keep` prints where it is) instead.
2. Times (in a second child process, so its peak RSS is the reconciliation's own):
   - the floor: a plain DuckDB scan of the same tables (every row of every input read once);
   - the month, part by part, each with wall time, CPU time of the process and the load average:
     the reconciliation (every order of the month, one status each), the day Parquet files kept
     before the ledger is released, the day CSVs (BOM, formula-safe) and the summaries and month
     rollup;
   - one day: the daily run's reconciliation and export of one day's orders.
   `--baseline REF` also runs this measurement with the code of git REF (e.g. `main`), the two
   alternating `--rounds` times on the same ledger, and prints the ratios (best of the rounds).
3. Prints rows per second, peak RSS, the ratio to the floor, and `JSON {…}` last.

Goal (issue 10): under 10 s and under 2 GB peak RSS for the month on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sync_pipeline.lib.domain.reconciliation import STATUSES  # noqa: E402
from sync_pipeline.lib.flows.finance.exports import CELL_RULE  # noqa: E402
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_orders, reconciliation  # noqa: E402
from sync_pipeline.lib.ledger.records import utcnow  # noqa: E402

START = date(2026, 10, 1)

SYNTHESIS = """
CREATE TEMP TABLE o AS
SELECT i, 7000000000 + i AS okey,
       'gid://shopify/Order/' || (7000000000 + i) AS id,
       $start::DATE + (i % $days)::INTEGER AS d,
       (i % 3) + 1 AS n_lines,
       CASE WHEN i % 5 = 0 THEN 'EUR' ELSE 'GBP' END AS currency,
       i % 100 AS r
FROM range($orders) t(i);

INSERT INTO finance_orders
SELECT okey, id, '#' || (100000 + i), d, d::TIMESTAMP + INTERVAL 9 HOUR,
       CASE WHEN r < 3 THEN d::TIMESTAMP + INTERVAL 10 HOUR END,
       d::TIMESTAMP + INTERVAL 9 HOUR,
       CASE WHEN r BETWEEN 10 AND 19 THEN 'AUTHORIZED' WHEN r BETWEEN 20 AND 27 THEN 'PARTIALLY_REFUNDED' ELSE 'PAID' END,
       CASE WHEN r BETWEEN 30 AND 34 THEN 'RETURNED' ELSE 'NO_RETURN' END,
       CASE WHEN r = 99 THEN '=HYPERLINK("http://evil.example","x")' ELSE 'Customer ' || i END,
       CASE WHEN r = 98 THEN '@SUM(A1:A9)' END,
       'GBP', currency, true,
       -- shop money: subtotal, discounts, shipping, tax, total, current total, current tax
       n_lines * 20.00, 0.00, 3.95, round((n_lines * 20.00 + 3.95) / 6, 2), n_lines * 20.00 + 3.95,
       n_lines * 20.00 + 3.95 - CASE WHEN r BETWEEN 20 AND 27 THEN 20.00 ELSE 0 END,  -- after the refund
       round((n_lines * 20.00 + 3.95) / 6, 2),
       -- received, refunded, refunded shipping, net, outstanding, capturable
       CASE WHEN r BETWEEN 10 AND 19 THEN 0 ELSE n_lines * 20.00 + 3.95 END,
       CASE WHEN r BETWEEN 20 AND 27 THEN 20.00 WHEN r < 3 THEN n_lines * 20.00 + 3.95 ELSE 0 END,
       0.00,
       CASE WHEN r BETWEEN 10 AND 19 THEN 0 WHEN r BETWEEN 20 AND 27 THEN n_lines * 20.00 - 16.05
            WHEN r < 3 THEN 0 ELSE n_lines * 20.00 + 3.95 END,
       0.00,
       CASE WHEN r BETWEEN 10 AND 19 THEN n_lines * 20.00 + 3.95 ELSE 0 END,
       -- the same in the presentment currency
       n_lines * 23.00, 0.00, 4.55, round((n_lines * 23.00 + 4.55) / 6, 2), n_lines * 23.00 + 4.55,
       n_lines * 23.00 + 4.55 - CASE WHEN r BETWEEN 20 AND 27 THEN 23.00 ELSE 0 END,
       round((n_lines * 23.00 + 4.55) / 6, 2),
       CASE WHEN r BETWEEN 10 AND 19 THEN 0 ELSE n_lines * 23.00 + 4.55 END,
       CASE WHEN r BETWEEN 20 AND 27 THEN 23.00 WHEN r < 3 THEN n_lines * 23.00 + 4.55 ELSE 0 END,
       0.00,
       CASE WHEN r BETWEEN 10 AND 19 THEN 0 WHEN r BETWEEN 20 AND 27 THEN n_lines * 23.00 - 18.45
            WHEN r < 3 THEN 0 ELSE n_lines * 23.00 + 4.55 END,
       0.00,
       CASE WHEN r BETWEEN 10 AND 19 THEN n_lines * 23.00 + 4.55 ELSE 0 END,
       d::TIMESTAMP + INTERVAL 12 HOUR, now()::TIMESTAMP,
       0.00, 0.00  -- refund discrepancy (0011), shop and presentment: no goodwill
FROM o;

CREATE TEMP TABLE l AS
SELECT o.okey AS ok, o.i, k, o.r, o.d,
       o.i * 4 + k AS line_key, 'SKU-' || ((o.i * 7 + k) % 3000) AS sku,
       CASE WHEN o.r BETWEEN 20 AND 27 AND k = 1 THEN 1 ELSE 0 END AS refunded
FROM o, range(1, 4) t(k) WHERE k <= o.n_lines;

INSERT INTO finance_order_lines
SELECT ok, d, line_key, sku, 2, CASE WHEN r < 3 THEN 0 ELSE 2 - refunded END, true, 10.00, 11.50 FROM l;

INSERT INTO finance_transactions
SELECT okey, d, 'gid://shopify/OrderTransaction/' || (7000000000 + i),
       CASE WHEN r BETWEEN 10 AND 19 THEN 'AUTHORIZATION' ELSE 'SALE' END, 'SUCCESS', 'shopify_payments',
       n_lines * 20.00 + 3.95, n_lines * 23.00 + 4.55, NULL, d::TIMESTAMP + INTERVAL 9 HOUR, NULL
FROM o;

INSERT INTO finance_refund_lines
SELECT ok, d, 'gid://shopify/Refund/' || (7000000000 + i), line_key, true,
       CASE WHEN r % 3 = 0 THEN 'RETURN' WHEN r % 3 = 1 THEN 'CANCEL' ELSE 'NO_RESTOCK' END,
       1, 16.67, 3.33, 19.17, 3.83
FROM l WHERE refunded = 1;

-- Packages: every line of an order not cancelled ships in full on the day after (3 % short by one
-- unit, 1 % one unit over), settled packages carry line units, a few are still pending (item codes).
INSERT INTO finance_package_units
SELECT ok, d, 'DES' || i, CASE WHEN i % 50 <> 0 THEN line_key END, CASE WHEN i % 50 = 0 THEN sku END,
       CASE WHEN r BETWEEN 40 AND 42 AND k = 1 THEN 1 WHEN r = 43 AND k = 1 THEN 3
            WHEN r BETWEEN 20 AND 27 AND k = 1 AND r % 3 = 1 THEN 1 ELSE 2 END,
       d::TIMESTAMP + INTERVAL 1 DAY
FROM l WHERE r >= 3 OR r = 0;

-- Returns: the RETURN refunds come back, plus 1 % returned without a refund (two in three reusable).
INSERT INTO pvx_return_units
SELECT ok, d, 'RET' || i, line_key, 1, CASE WHEN i % 3 = 0 THEN 0 ELSE 1 END, NULL FROM l
WHERE (refunded = 1 AND r % 3 = 0 AND r <> 21) OR (r = 50 AND k = 1);
"""


TABLES = ("finance_orders", "finance_order_lines", "finance_transactions", "finance_refund_lines",
          "finance_package_units", "pvx_return_units")  # fmt: skip


def synthesise(path: Path, orders: int, days: int) -> dict[str, int]:
    book = Ledger(path)
    book.migrate()
    with book.transaction() as con:
        for statement in filter(str.strip, SYNTHESIS.split(";")):
            used = {
                k: v
                for k, v in {"start": START, "days": days, "orders": orders}.items()
                if f"${k}" in statement
            }
            con.execute(statement, used)
    return input_rows(path)


def input_rows(path: Path) -> dict[str, int]:
    with Ledger(path).transaction() as con:
        return {t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}  # type: ignore[index]


FLOOR = """
SELECT (SELECT count(*) + sum(total_price) + sum(p_total_price) + sum(received) + sum(refunded)
              + count(cancelled_at) + count(paid_at) FROM finance_orders)
     + (SELECT count(*) + sum(quantity) + sum(current_quantity) + sum(unit_price) FROM finance_order_lines)
     + (SELECT count(*) + sum(quantity) FROM finance_refund_lines)
     + (SELECT count(*) + sum(units) + count(line_key) FROM finance_package_units)
     + (SELECT count(*) + sum(units) FROM pvx_return_units)
"""


class Parts:
    """Wall time, CPU time of this process (every thread) and the load average, per part."""

    def __init__(self) -> None:
        self.figures: dict[str, dict[str, float]] = {}
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def mark(self, name: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        self.figures[name] = {"seconds": wall - self.wall, "cpu_seconds": cpu - self.cpu,
                              "load": os.getloadavg()[0]}  # fmt: skip
        self.wall, self.cpu = wall, cpu


def measure(path: Path, days: int, exports: Path) -> dict[str, object]:
    book = Ledger(path)
    end = START + timedelta(days=days)
    as_of = datetime.combine(end, datetime.min.time(), UTC) + timedelta(days=2)
    sla = timedelta(hours=48)
    figures: dict[str, object] = {}
    with book.transaction() as con:  # warm the file cache, as a running code location would be
        con.execute(FLOOR).fetchall()
    started = time.perf_counter()
    with book.transaction() as con:
        con.execute(FLOOR).fetchall()
    figures["floor_seconds"] = time.perf_counter() - started

    all_days = finance_exports.days_between(START, end)
    started, cpu = time.perf_counter(), time.process_time()
    parts = Parts()
    with ExitStack() as keep:
        with book.transaction() as con:
            counts = reconciliation.reconcile(con, START, end, as_of, sla)
            parts.mark("reconcile")
            result = keep.enter_context(finance_exports.kept_result(con, exports))
            parts.mark("keep")
        figures["ledger_held_seconds"] = time.perf_counter() - started
        finance_exports.export_orders(result, exports, START, end, CELL_RULE, utcnow())
        parts.mark("day_files")
    finance_exports.summarise_days(exports, all_days, STATUSES)
    parts.mark("summaries")
    figures["month_seconds"] = time.perf_counter() - started
    figures["month_cpu_seconds"] = time.process_time() - cpu
    figures["reconcile_seconds"] = parts.figures["reconcile"]["seconds"]
    figures["export_seconds"] = figures["month_seconds"] - figures["reconcile_seconds"]
    figures["parts"] = parts.figures
    figures["by_status"] = counts.by_status

    day = START + timedelta(days=days // 2)
    started = time.perf_counter()
    with ExitStack() as keep:
        with book.transaction() as con:
            one = reconciliation.reconcile(con, day, day + timedelta(days=1), as_of, sla)
            result = keep.enter_context(finance_exports.kept_result(con, exports))
        finance_exports.export_orders(result, exports, day, day + timedelta(days=1), CELL_RULE, utcnow())
    finance_exports.summarise_days(exports, [day], STATUSES)
    figures["one_day_seconds"] = time.perf_counter() - started
    figures["one_day_orders"] = one.orders
    with book.transaction() as con:
        totals = {(t.order_date, t.currency): t for t in finance_orders.shopify_totals(con, START, end)}
    summaries = finance_exports.read_daily_summaries(exports, all_days, STATUSES)
    figures["ties_out"] = len(summaries) == len(totals) and all(
        row["orders"]
        == sum(row[f"{s}_orders"] for s in STATUSES)
        == totals[(row["order_date"], row["currency"])].orders
        and row["revenue"]
        == sum(row[f"{s}_value"] for s in STATUSES)
        == totals[(row["order_date"], row["currency"])].p_total_price
        for row in summaries
    )
    figures["load_average"] = os.getloadavg()[0]
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    figures["month_csv_mb"] = (
        exports / START.strftime("%Y-%m") / "order_reconciliation.csv"
    ).stat().st_size / 1e6
    return figures


def step(script: Path, name: str, work: Path, args: argparse.Namespace) -> dict[str, object]:
    """One step in a fresh process, by `script` (this file, or the baseline's): its JSON. Its stderr
    is passed through (a failure shows its traceback)."""
    child = [sys.executable, str(script), "--orders", str(args.orders), "--days", str(args.days),
             "--dir", str(work), "--step", name]  # fmt: skip
    return json.loads(subprocess.run(child, check=True, stdout=subprocess.PIPE, text=True).stdout)


def measured(script: Path, work: Path, args: argparse.Namespace) -> dict[str, object]:
    """One measurement, on fresh exports."""
    shutil.rmtree(work / "exports", ignore_errors=True)
    return step(script, "measure", work, args)


def baseline_checkout(ref: str, into: Path) -> Path:
    """The benchmark script of git `ref`, with that commit's code beside it (git archive)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "benchmarks" / "reconciliation.py"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=31)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (and its ledger)")
    parser.add_argument("--ledger", type=Path, help="reuse this synthesised ledger (of --orders, --days)")
    parser.add_argument("--baseline", help="git ref whose code is measured too, alternating (e.g. main)")
    parser.add_argument(
        "--rounds", type=int, default=2, help="baseline/current alternations (with --baseline)"
    )
    parser.add_argument("--step", choices=("synthesise", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step == "synthesise":
        print(json.dumps(synthesise(args.dir / "ledger.duckdb", args.orders, args.days)))
        return 0
    if args.step == "measure":
        print(json.dumps(measure(args.dir / "ledger.duckdb", args.days, args.dir / "exports"), default=str))
        return 0

    work = Path(tempfile.mkdtemp(prefix="reconciliation-bench-"))
    runs: dict[str, list[dict[str, object]]] = {"baseline": [], "current": []}
    try:
        if args.ledger:
            (work / "ledger.duckdb").symlink_to(args.ledger.resolve())
            rows = input_rows(work / "ledger.duckdb")
            print(f"reusing {args.ledger}: {rows}", flush=True)
        else:
            started = time.perf_counter()
            rows = step(Path(__file__), "synthesise", work, args)  # type: ignore[assignment]
            print(f"synthesised {rows} in {time.perf_counter() - started:.1f}s", flush=True)
        if args.baseline:
            old = baseline_checkout(args.baseline, Path(tempfile.mkdtemp(prefix="reconciliation-baseline-")))
            try:
                for round_ in range(args.rounds):
                    for name, script in (("baseline", old), ("current", Path(__file__))):
                        runs[name].append(measured(script, work, args))
                        r = runs[name][-1]
                        print(f"round {round_ + 1} {name:8s} month {r['month_seconds']:6.2f}s wall "
                              f"{r['month_cpu_seconds']:6.2f}s CPU  (load {r['load_average']:.1f})", flush=True)  # fmt: skip
            finally:
                shutil.rmtree(old.parent.parent, ignore_errors=True)
        else:
            runs["current"].append(measured(Path(__file__), work, args))
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    f = min(runs["current"], key=lambda r: float(r["month_cpu_seconds"]))  # type: ignore[arg-type]
    month_seconds = f["month_seconds"]
    total_rows = sum(rows.values())
    figures = {
        "orders": args.orders,
        "days": args.days,
        "input_rows": total_rows,
        "seconds": round(month_seconds, 2),
        "reconcile_seconds": round(f["reconcile_seconds"], 2),
        "export_seconds": round(f["export_seconds"], 2),
        "ledger_held_seconds": round(f["ledger_held_seconds"], 2),
        "cpu_seconds": round(f["month_cpu_seconds"], 2),
        "load_average": round(f["load_average"], 1),
        "floor_seconds": round(f["floor_seconds"], 3),
        "ratio_to_floor": round(f["reconcile_seconds"] / f["floor_seconds"], 1),
        "orders_per_second": round(args.orders / month_seconds),
        "one_day_orders": f["one_day_orders"],
        "one_day_seconds": round(f["one_day_seconds"], 2),
        "peak_rss_mb": round(f["peak_rss_mb"]),
        "ties_out": all(r["ties_out"] for r in runs["current"]),
        "month_csv_mb": round(f["month_csv_mb"], 1),
        "parts": {k: {n: round(v, 2) for n, v in p.items()} for k, p in f["parts"].items()},
        "by_status": f["by_status"],
    }
    parts = "\n".join(
        f"    {name:<42s}{p['seconds']:6.2f}s wall {p['cpu_seconds']:6.2f}s CPU   (load {p['load']:.1f})"
        for name, p in f["parts"].items()
    )
    print(
        f"""
reconciliation: {args.orders:,} orders over {args.days} days ({total_rows:,} input rows)
  floor (plain DuckDB scan of the same tables)  {f["floor_seconds"]:.2f}s
  monthly reconciliation                        {f["reconcile_seconds"]:.2f}s  ({figures["ratio_to_floor"]}x the floor)
  exports ({args.days} days + month rollup)     {f["export_seconds"]:.2f}s
  by part (reconcile and keep hold the ledger):
{parts}
  ledger lock held (reconcile + keep)           {f["ledger_held_seconds"]:.2f}s
  month total                                   {month_seconds:.2f}s = {figures["orders_per_second"]:,} orders/s   (goal < 10 s)
  CPU time of the month (both cores)            {f["month_cpu_seconds"]:.2f}s   (load average {f["load_average"]:.1f} on {os.cpu_count()} CPUs)
  one day ({f["one_day_orders"]:,} orders, reconcile + export)  {f["one_day_seconds"]:.2f}s
  peak RSS                                      {f["peak_rss_mb"]:.0f} MB   (goal < 2,048 MB)
  ties out to the penny                         {figures["ties_out"]}
  statuses                                      {json.dumps(f["by_status"])}""",
        flush=True,
    )
    if runs["baseline"]:
        b = min(runs["baseline"], key=lambda r: float(r["month_cpu_seconds"]))  # type: ignore[arg-type]
        ratios = {
            key: round(float(b[key]) / float(f[key]), 2)
            for key in (
                "month_cpu_seconds",
                "month_seconds",
                "reconcile_seconds",
                "export_seconds",
                "ledger_held_seconds",
                "peak_rss_mb",
            )
        }
        figures["baseline"] = {"ref": args.baseline, "rounds": args.rounds, **{
            key: round(float(b[key]), 2) for key in ratios}, "load_average": round(float(b["load_average"]), 1)}  # fmt: skip
        figures["baseline_over_current"] = ratios
        print(f"  against {args.baseline} (best of {args.rounds} alternating runs each; baseline ÷ current):")
        for key, ratio in ratios.items():
            print(f"    {key:<40s}{float(b[key]):8.2f} → {float(f[key]):8.2f}   = {ratio}x")
    print("\nJSON " + json.dumps(figures), flush=True)
    return 0 if figures["ties_out"] else 1


if __name__ == "__main__":
    sys.exit(main())
