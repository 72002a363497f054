"""The files finance opens without us: per day and per month, CSV (Excel-ready) and Parquet.

    <exports>/YYYY-MM-DD/order_reconciliation.csv, order_reconciliation.parquet, daily_summary.csv
    <exports>/YYYY-MM/order_reconciliation.csv, daily_summary.csv, month_summary.csv

The reconciliation just made (`reconciliation.RESULT`) leaves the ledger transaction as the day
Parquet files themselves, in one pass partitioned by day (`kept_result`), so the ledger's lock is
not held while the rest is written: each day's CSV is then made from its own Parquet file
(`export_orders`), and the summaries and the month rollup from the day files alone
(`summarise_days`). Both run on an in-memory DuckDB with no ledger lock, and the summaries always
agree with what finance already has. BI tools read the Parquet files (a month is `YYYY-MM-*/order_reconciliation.parquet`).

CSV is UTF-8 with a byte-order mark (Excel otherwise reads it in the local code page) and
formula-safe: free-text cells (order name, customer name, note) go through the same rule as
Peoplevox label text (`lib/domain/text.py`, passed in as a `CellRule`), so a customer called
`=HYPERLINK(…)` is shown, never run. Amounts are plain decimals with their currency's own decimals
(`12.50`, `-3.10`; KWD `11.385`; JPY `1200`: `lib/domain/currency.py`), the customer's amounts in
the order's currency and the `_shop` ones in the shop's; times are UTC `YYYY-MM-DD HH:MM:SS`,
which Excel reads as dates.
Parquet keeps the types: DECIMAL(18, 3) (the ledger's money), DATE, TIMESTAMP; `read_orders` and
`read_daily_summaries` give each amount back as a Decimal with its currency's decimals.

Every file is written under a temporary name and renamed into place: a reader never sees half a
file. Runs that overlap or die half way are `finance_placing.py`'s: older files never go over newer
ones, and a killed run's staging folder is removed by the next.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from sync_pipeline.lib.domain.currency import LEDGER_DECIMALS, NO_DECIMALS, THREE_DECIMALS, minor_units
from sync_pipeline.lib.ledger import finance_placing as placing
from sync_pipeline.lib.ledger.reconciliation import RESULT

BOM = "\ufeff"
ORDERS_CSV, ORDERS_PARQUET = "order_reconciliation.csv", "order_reconciliation.parquet"
DAILY_SUMMARY, MONTH_SUMMARY = "daily_summary.csv", "month_summary.csv"
AMOUNTS = ("subtotal", "discounts", "shipping", "tax", "total_price", "current_total_price", "received",
           "refunded", "net_payment", "capturable", "outstanding", "despatched_value")  # fmt: skip
UNITS = ("units_ordered", "units_cancelled", "units_refunded", "units_to_despatch", "units_despatched",
         "units_returned", "units_returned_reusable", "units_returned_unmatched", "units_refunded_for_return")  # fmt: skip
FREE_TEXT = ("order_name", "customer_name", "note")
TIMES = ("paid_at", "last_despatched_at", "as_of")
# Snappy: DuckDB's default, about half zstd's CPU for files a little larger.
PARQUET_COMPRESSION = "snappy"


@dataclass(frozen=True)
class CellRule:
    """A text cell is neutralised (a leading apostrophe) when it starts with one of `starts` and is
    not wholly matched by `harmless` (a regular expression Python and DuckDB both read)."""

    starts: tuple[str, ...]
    harmless: str


def _safe(column: str, rule: CellRule) -> str:
    starts = ", ".join(f"chr({ord(c)})" for c in rule.starts)
    harmless = rule.harmless.replace("'", "''")
    return (f"CASE WHEN left({column}, 1) IN ({starts}) AND NOT regexp_full_match({column}, '{harmless}') "
            f"THEN '''' || {column} ELSE {column} END")  # fmt: skip


# An exported order row, (name, expression over `RESULT`): amounts in the customer's currency,
# then the same in the shop's currency.
_EXPORTED: list[tuple[str, str]] = [
    ("order_date", "order_date"), ("order_name", "order_name"), ("customer_name", "customer_name"),
    ("status", "status"), ("cancelled", "cancelled"), ("currency", "currency"),
    *((a, f"p_{a}") for a in AMOUNTS),
    ("shop_currency", "shop_currency"), *((f"{a}_shop", a) for a in AMOUNTS),
    *((u, u) for u in UNITS),
    ("financial_status", "financial_status"), ("return_status", "return_status"), ("note", "note"),
    *((t, t) for t in TIMES),
    ("shopify_order_id", "shopify_order_id"),
]  # fmt: skip


def _listed(codes: frozenset[str]) -> str:
    return ", ".join(f"'{c}'" for c in sorted(codes))


def _decimals(currency: str) -> str:
    """The decimals of the currency in column `currency` (ISO 4217 minor units)."""
    code = f"upper(trim({currency}))"  # as `currency.minor_units` reads it (a test holds them together)
    return (f"CASE WHEN {code} IN ({_listed(THREE_DECIMALS)}) THEN 3 "
            f"WHEN {code} IN ({_listed(NO_DECIMALS)}) THEN 0 ELSE 2 END")  # fmt: skip


def _with_decimals(relation: str) -> str:
    """`relation` with each row's decimals (`currency_decimals`, `shop_decimals`), worked out once a
    row rather than once an amount: a CASE per amount made the CSV pass about twice as slow."""
    return (f"(SELECT *, {_decimals('currency')} AS currency_decimals, {_decimals('shop_currency')} AS shop_decimals "
            f"FROM {relation})")  # fmt: skip


def _amount_text(column: str) -> str:
    """`column` as text with its currency's decimals (`_shop` amounts the shop's, the rest the
    customer's), over `_with_decimals`: the ledger keeps three for every amount, finance reads EUR
    10.00, KWD 11.385, JPY 1200."""
    d = "shop_decimals" if column.endswith("_shop") else "currency_decimals"
    return (f"CASE {d} WHEN 2 THEN {column}::DECIMAL(38, 2)::VARCHAR WHEN 3 THEN {column}::DECIMAL(38, 3)::VARCHAR "
            f"ELSE {column}::DECIMAL(38, 0)::VARCHAR END AS {column}")  # fmt: skip


def _parquet_columns() -> list[str]:
    """The Parquet file's columns, selected from `RESULT`: native types, no text rule."""
    return [name if name == expression else f"{expression} AS {name}" for name, expression in _EXPORTED]


def _csv_columns(rule: CellRule) -> list[str]:
    """The CSV file's columns, selected from the day's Parquet file: the same columns, the first
    name behind the byte-order mark, free text formula-safe, times to the second."""
    cols = []
    for name, _ in _EXPORTED:
        if name == "order_date":
            cols.append(f'order_date AS "{BOM}order_date"')
        elif name in FREE_TEXT:
            cols.append(f"{_safe(name, rule)} AS {name}")
        elif name in TIMES:
            cols.append(f"{name}::TIMESTAMP_S AS {name}")
        elif name.removesuffix("_shop") in AMOUNTS:
            cols.append(_amount_text(name))
        else:
            cols.append(name)
    return cols


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _copy(con: duckdb.DuckDBPyConnection, select: str, target: Path, options: str) -> None:
    """COPY to a temporary name beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}")
    try:
        con.execute(f"COPY ({select}) TO '{_quoted(partial)}' ({options})")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def days_between(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


_EMPTY = "empty.parquet"


@contextmanager
def kept_result(con: duckdb.DuckDBPyConnection, root: Path) -> Iterator[Path]:
    """Write the reconciliation just made (`RESULT`, in the ledger transaction `con`) as each day's
    Parquet file, in one pass partitioned by day, into a staging folder under `root` (plus an empty
    file with the same columns, for days with no orders). Yields the folder, removed when the block
    ends. These files are both the copy the CSVs are made from once the ledger is free and the
    Parquet files finance gets (`export_orders` moves them into place): a separate copy, with the
    Parquet and CSV files then written from it, was half as much work again for a month."""
    with placing.staging_folder(root) as staging:
        columns = ", ".join(_parquet_columns())
        # The day is selected twice: PARTITION_BY takes its own column out of the files.
        con.execute(
            f"COPY (SELECT order_date AS part, {columns} FROM {RESULT}) TO '{_quoted(staging / 'parquet')}' "
            f"(FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION}, PARTITION_BY (part), OVERWRITE_OR_IGNORE)"
        )
        con.execute(
            f"COPY (SELECT {columns} FROM {RESULT} LIMIT 0) TO '{_quoted(staging / _EMPTY)}' "
            f"(FORMAT parquet, COMPRESSION {PARQUET_COMPRESSION})"
        )
        yield staging


def export_orders(
    result: Path, root: Path, start: date, end: date, rule: CellRule, made_at: datetime
) -> list[Path]:
    """Each day's `order_reconciliation.csv` and `.parquet` from a kept reconciliation (`kept_result`,
    made in the ledger at `made_at`): the Parquet file is moved into place and the CSV made from it (a
    day with no orders gets files with the header only), so call it once per kept result. No ledger
    connection. Returns the day folders written.

    A day whose files come from a later reconciliation is left alone: two runs of overlapping days
    (a month backfill beside the nightly run) make their files outside the ledger, so the one that
    reconciled first may be ready last (`finance_placing.py`).

    One COPY per day, each reading only its own day's file (a partitioned pass over the whole
    month cost more); the days are shared between one thread per core."""
    days = days_between(start, end)
    sources = {day: _staged_parquet(result, day) for day in days}
    csv_dir = result / "csv"
    csv_dir.mkdir(exist_ok=True)
    select = ", ".join(_csv_columns(rule))

    def write(con: duckdb.DuckDBPyConnection, share: Sequence[date]) -> None:
        for day in share:
            source = _with_decimals(f"read_parquet('{_quoted(sources[day])}')")
            con.execute(
                f"COPY (SELECT {select} FROM {source}) "
                f"TO '{_quoted(csv_dir / f'{day.isoformat()}.csv')}' (FORMAT csv, HEADER)"
            )

    workers = max(1, min(len(days), os.cpu_count() or 1))
    with files_connection() as con, ThreadPoolExecutor(workers) as pool:
        cursors = [con.cursor() for _ in range(workers)]
        try:
            for done in [pool.submit(write, c, days[i::workers]) for i, c in enumerate(cursors)]:
                done.result()
        finally:
            for c in cursors:
                c.close()
    folders = []
    with placing.exports_lock(root):
        for day in days:
            folder = root / day.isoformat()
            if placing.made_later(folder, made_at):  # a run that reconciled later put its files first
                continue
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(csv_dir / f"{day.isoformat()}.csv", folder / ORDERS_CSV)
            if sources[day].name == _EMPTY:  # the template stays for the next empty day
                partial = folder / f".{ORDERS_PARQUET}.{uuid.uuid4().hex[:8]}"
                try:
                    shutil.copyfile(sources[day], partial)
                    os.replace(partial, folder / ORDERS_PARQUET)
                finally:
                    partial.unlink(missing_ok=True)
            else:
                os.replace(sources[day], folder / ORDERS_PARQUET)
            placing.mark_made(folder, made_at)
            folders.append(folder)
        placing.remove_dead_staging(root)
    return folders


def _staged_parquet(staging: Path, day: date) -> Path:
    written = sorted((staging / "parquet" / f"part={day.isoformat()}").glob("*"))
    if len(written) > 1:
        raise RuntimeError(f"expected one Parquet file for {day}, found {len(written)}")
    return written[0] if written else staging / _EMPTY


_SUMMED = (("revenue", "total_price"), ("refunds", "refunded"), ("received", "received"),
           ("despatched_value", "despatched_value"))  # fmt: skip


def _summary_select(statuses: Sequence[str], orders: str) -> str:
    """Per day and currency: revenue, refunds, received, despatched value, net, then each status's
    orders and value (Shopify's total price), in both currencies. Reads the order files (`orders`)
    once, grouped by status too, and spreads the statuses into columns over those few rows: one
    filtered sum per status and column over every order cost most of the summaries' time."""
    by_status = ["order_date", "currency", "status", "any_value(shop_currency) AS shop_currency",
                 "count(*) AS orders"]  # fmt: skip
    for name, column in _SUMMED:
        by_status += [f"sum({column}) AS {name}", f"sum({column}_shop) AS {name}_shop"]
    cols = [
        "order_date",
        "currency",
        "any_value(shop_currency) AS shop_currency",
        "sum(orders)::BIGINT AS orders",
    ]
    for name, _ in _SUMMED:
        cols += [f"sum({name}) AS {name}", f"sum({name}_shop) AS {name}_shop"]
    cols += ["sum(revenue) - sum(refunds) AS net", "sum(revenue_shop) - sum(refunds_shop) AS net_shop"]
    for s in statuses:
        where = f"FILTER (WHERE status = '{s}')"
        cols += [f"coalesce(sum(orders) {where}, 0)::BIGINT AS {s}_orders",
                 f"coalesce(sum(revenue) {where}, 0) AS {s}_value",
                 f"coalesce(sum(revenue_shop) {where}, 0) AS {s}_value_shop"]  # fmt: skip
    return (
        f"SELECT {', '.join(cols)} FROM (SELECT {', '.join(by_status)} FROM {orders} "
        "GROUP BY order_date, currency, status) GROUP BY order_date, currency"
    )


_files_database: tuple[int, duckdb.DuckDBPyConnection] | None = None
_files_database_lock = threading.Lock()


@contextmanager
def files_connection() -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to an in-memory DuckDB for reading export files: never the ledger, so never its
    lock. One database a process (made again in a forked child), a fresh connection to it each
    time: a new in-memory database cost ~48 ms of CPU, a connection to it ~0.5 ms, and a finance
    run opens several (temporary tables stay each connection's own)."""
    global _files_database
    with _files_database_lock:
        if _files_database is None or _files_database[0] != os.getpid():
            _files_database = (os.getpid(), duckdb.connect())
        con = _files_database[1].cursor()
    try:
        yield con
    finally:
        con.close()


def _parquet(root: Path, days: Sequence[date]) -> str:
    files = ", ".join(f"'{_quoted(root / d.isoformat() / ORDERS_PARQUET)}'" for d in days)
    # By name: a month may hold day files of two releases, one with a column the other lacks (null).
    return f"read_parquet([{files}], union_by_name = true)"


def _present(root: Path, days: Sequence[date]) -> list[date]:
    return [d for d in days if (root / d.isoformat() / ORDERS_PARQUET).exists()]


def summarise_days(root: Path, days: Sequence[date], statuses: Sequence[str]) -> list[Path]:
    """Each day's `daily_summary.csv`, then the rollup of every month those days fall in, all made
    from the day files (one read of a month's order files). Returns the files written."""
    written: list[Path] = []
    wanted = set(days)
    with files_connection() as con:
        for month in sorted({d.replace(day=1) for d in days}):
            following = (month + timedelta(days=32)).replace(day=1)
            present = _present(root, days_between(month, following))
            if not present:
                continue
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE month_days AS {_summary_select(statuses, _parquet(root, present))}"
            )
            shown = ", ".join(_summary_text(statuses))
            daily = (f'SELECT order_date AS "{BOM}order_date", currency, shop_currency, {shown} '
                     f"FROM {_with_decimals('month_days')}")  # fmt: skip
            for day in present:
                if day in wanted:
                    target = root / day.isoformat() / DAILY_SUMMARY
                    _copy(con, f"{daily} WHERE order_date = DATE '{day.isoformat()}' ORDER BY currency", target,
                          "FORMAT csv, HEADER")  # fmt: skip
                    written.append(target)
            written += _month(con, root, month, present, daily, statuses)
    return written


def _month(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    month: date,
    present: Sequence[date],
    daily: str,
    statuses: Sequence[str],
) -> list[Path]:
    """The month folder: its orders (the day CSVs joined), its daily and its month summary."""
    folder = root / month.strftime("%Y-%m")
    folder.mkdir(parents=True, exist_ok=True)
    orders = folder / ORDERS_CSV
    partial = folder / f".{ORDERS_CSV}.{uuid.uuid4().hex[:8]}"
    try:
        _join_day_csvs(con, [root / d.isoformat() / ORDERS_CSV for d in present], partial)
        os.replace(partial, orders)
    finally:
        partial.unlink(missing_ok=True)
    _copy(con, f"{daily} ORDER BY order_date, currency", folder / DAILY_SUMMARY, "FORMAT csv, HEADER")
    sums = [f"sum({c}) AS {c}" for c in _summable(statuses)]
    summed = (f"SELECT currency, any_value(shop_currency) AS shop_currency, {', '.join(sums)} FROM month_days "
              "GROUP BY currency")  # fmt: skip
    _copy(con, f'SELECT \'{month.strftime("%Y-%m")}\' AS "{BOM}month", currency, shop_currency, '
               f"{', '.join(_summary_text(statuses))} FROM {_with_decimals(f'({summed})')} ORDER BY currency",
          folder / MONTH_SUMMARY, "FORMAT csv, HEADER")  # fmt: skip
    return [orders, folder / DAILY_SUMMARY, folder / MONTH_SUMMARY]


def _summable(statuses: Sequence[str]) -> list[str]:
    """The summary's numeric columns, in order (a month's are the sums of its days')."""
    cols = ["orders"]
    for name in ("revenue", "refunds", "received", "despatched_value", "net"):
        cols += [name, f"{name}_shop"]
    for s in statuses:
        cols += [f"{s}_orders", f"{s}_value", f"{s}_value_shop"]
    return cols


def _summary_text(statuses: Sequence[str]) -> list[str]:
    """The summary's numeric columns as finance reads them: counts as they are, amounts with their
    currency's decimals (`_shop` ones the shop's, the rest the customer's)."""
    cols = []
    for c in _summable(statuses):
        if c == "orders" or c.endswith("_orders"):
            cols.append(c)
        else:
            cols.append(_amount_text(c))
    return cols


def _join_day_csvs(con: duckdb.DuckDBPyConnection, parts: Sequence[Path], target: Path) -> None:
    """The month's orders CSV from its day CSVs: joined byte for byte when they share one heading;
    by column name when they do not (day files of two releases, one with a column more: joined
    bytes would put the older days' values under the wrong headings). The widest heading's column
    order is kept, the older days' missing cells left empty, every cell's text as the day file has it."""
    headings = {}
    for part in parts:
        with part.open("rb") as fh:
            headings[part] = fh.readline().rstrip(b"\r\n")
    if len(set(headings.values())) <= 1:
        _concatenate(parts, target)
        return
    widest = max(headings.values(), key=lambda h: len(h.split(b",")))
    names = [n.replace('"', '""') for n in widest.decode("utf-8").lstrip(BOM).split(",")]
    # DuckDB reads the BOM off the first heading; it goes back on for Excel.
    columns = ", ".join([f'"{names[0]}" AS "{BOM}{names[0]}"', *(f'"{n}"' for n in names[1:])])
    listed = ", ".join(f"'{_quoted(p)}'" for p in parts)
    con.execute(
        f"COPY (SELECT {columns} FROM read_csv([{listed}], header = true, all_varchar = true, "
        f"union_by_name = true, encoding = 'utf-8')) TO '{_quoted(target)}' (FORMAT csv, HEADER)"
    )


def _concatenate(parts: Sequence[Path], target: Path) -> None:
    """One CSV from day CSVs of the same layout: the first whole, the others without their header."""
    with target.open("wb") as out:
        for index, part in enumerate(parts):
            with part.open("rb") as source:
                header = source.readline()
                if index == 0:
                    out.write(header)
                shutil.copyfileobj(source, out, length=1 << 20)


def read_daily_summaries(root: Path, days: Sequence[date], statuses: Sequence[str]) -> list[dict[str, Any]]:
    """The exported `daily_summary.csv` rows of these days (those that have one), amounts as
    Decimal: what finance reads, for the tie-out check."""
    files = [
        root / d.isoformat() / DAILY_SUMMARY for d in days if (root / d.isoformat() / DAILY_SUMMARY).exists()
    ]
    if not files:
        return []
    money = f"DECIMAL(38, {LEDGER_DECIMALS})"
    types = {c: "BIGINT" if c.endswith("orders") else money for c in _summable(statuses)}
    types |= {"currency": "VARCHAR", "shop_currency": "VARCHAR"}
    with files_connection() as con:
        listed = ", ".join(f"'{_quoted(f)}'" for f in files)
        cursor = con.execute(
            f"SELECT * FROM read_csv([{listed}], header = true, types = $types, encoding = 'utf-8') "
            "ORDER BY 1, currency",
            {"types": types},
        )
        names = [d[0].lstrip(BOM) for d in cursor.description]
        return [_own_decimals(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def read_orders(
    root: Path,
    days: Sequence[date],
    statuses: Sequence[str] | None = None,
    limit: int | None = None,
    returned_unmatched: bool = False,
) -> list[dict[str, Any]]:
    """Exported order rows of these days (in `statuses`, if given; with items returned that no line
    of the order has, if `returned_unmatched`), largest shop value first."""
    present = _present(root, days)
    if not present:
        return []
    tests = [f"status IN ({', '.join(repr(s) for s in statuses)})"] if statuses is not None else []
    tests += ["units_returned_unmatched > 0"] if returned_unmatched else []
    where = f"WHERE {' AND '.join(tests)}" if tests else ""
    with files_connection() as con:
        cursor = con.execute(
            f"SELECT * FROM {_parquet(root, present)} {where} ORDER BY total_price_shop DESC, order_date, "
            f"shopify_order_id {'LIMIT ' + str(int(limit)) if limit is not None else ''}"
        )
        names = [d[0] for d in cursor.description]
        return [_own_decimals(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _own_decimals(row: dict[str, Any]) -> dict[str, Any]:
    """A row's amounts with their currency's decimals, as the CSV shows them (the files keep three
    for every amount): `_shop` ones the shop's currency, the rest the customer's. Exact: an amount
    never has more decimals than its currency."""
    for name, value in row.items():
        if isinstance(value, Decimal) and row.get("currency"):
            currency = row["shop_currency"] if name.endswith("_shop") else row["currency"]
            row[name] = value.quantize(Decimal(1).scaleb(-minor_units(currency)))
    return row


def status_totals(root: Path, days: Sequence[date], statuses: Sequence[str]) -> dict[str, tuple[int, Any]]:
    """{status: (orders, shop value)} over the exported order rows of these days."""
    present = _present(root, days)
    if not present:
        return {}
    wanted = ", ".join(f"'{s}'" for s in statuses)
    with files_connection() as con:
        rows = con.execute(
            f"SELECT status, count(*), sum(total_price_shop) FROM {_parquet(root, present)} "
            f"WHERE status IN ({wanted}) GROUP BY status ORDER BY status"
        ).fetchall()
    return {str(s): (int(n), v) for s, n, v in rows}
