"""Finance breakers on a real ledger and real files (no sandboxes): what finance opens when
reconciliations overlap or die half way, and money Shopify states to a tenth of a penny."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.reconcile import exports_root, reconcile_days
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_orders
from sync_pipeline.lib.ledger.finance_orders import Amount
from sync_pipeline_tests.finance.factories import AS_OF, DAY, finance_set, write
from sync_pipeline_tests.finance.test_assets_and_checks import evaluations, materialise, order
from sync_pipeline_tests.finance.world import REPO_ROOT, RULES

RULES_DIR = REPO_ROOT / "data" / "config"


def csv_rows(root: Path) -> list[dict[str, Any]]:
    with (root / DAY.isoformat() / finance_exports.ORDERS_CSV).open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def reconcile(book: Ledger, root: Path) -> None:
    reconcile_days(book, root, DAY, DAY + timedelta(days=1), AS_OF, RULES)


# -- two reconciliations of one day at once -----------------------------------------------------
def test_an_older_reconciliation_never_puts_its_files_over_a_newer_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The month backfill reconciles October, then writes a month of CSVs from its Parquet files
    (seconds, without the ledger). Meanwhile the nightly run reconciles the same days after the
    warehouse shipped an order, and puts its files in place first. The backfill's files, older,
    must not land over them: finance would read `paid_not_despatched` for a parcel long gone."""
    book, root = Ledger(tmp_path / "ledger.duckdb"), exports_root(tmp_path)
    write(book, [order(1, settled=[])])  # paid 100 hours ago, nothing shipped yet
    paused, resume = threading.Event(), threading.Event()
    export_orders = finance_exports.export_orders

    def slow_for_the_backfill(*args: Any, **kwargs: Any) -> list[Path]:
        if threading.current_thread().name == "backfill":
            paused.set()
            resume.wait(60)
        return export_orders(*args, **kwargs)

    monkeypatch.setattr(finance_exports, "export_orders", slow_for_the_backfill)
    backfill = threading.Thread(target=reconcile, args=(book, root), name="backfill")
    backfill.start()
    try:
        assert paused.wait(60), "the backfill never reached its exports"
        write(book, [order(1)])  # the warehouse shipped both units
        reconcile(book, root)  # the nightly run
        assert [r["status"] for r in csv_rows(root)] == [rules.MATCHED]
    finally:
        resume.set()
        backfill.join(60)
    assert not backfill.is_alive()
    assert [r["status"] for r in csv_rows(root)] == [rules.MATCHED]
    assert [r["status"] for r in finance_exports.read_orders(root, [DAY])] == [rules.MATCHED]


# -- a run killed between the reconciliation and the files ----------------------------------------
KILLED_MID_EXPORT = """
import os, signal, sys
from datetime import date, datetime, timedelta, UTC
from pathlib import Path
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.finance.reconcile import reconcile_days
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_orders
from sync_pipeline.lib.ledger.finance_orders import Amount

def killed(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the run worker dies: OOM, a deploy, a node drained

finance_exports.export_orders = killed
data, config, day = Path(sys.argv[1]), Path(sys.argv[2]), date.fromisoformat(sys.argv[3])
reconcile_days(Ledger(data / "ledger.duckdb"), data / "exports" / "finance", day, day + timedelta(days=1),
               datetime.now(UTC), load_business_rules(config))
"""


def test_a_run_killed_before_its_files_leaves_nothing_behind_once_the_next_run_is_done(
    tmp_path: Path,
) -> None:
    """SIGKILL after the ledger transaction and before the day files: finance still has the last
    whole files, and the next run puts the day right and removes what the killed run staged (a
    month of Parquet files per killed run, which a BI tool globbing the folder would count twice)."""
    book, root = Ledger(tmp_path / "ledger.duckdb"), exports_root(tmp_path)
    write(book, [order(1, settled=[])])
    reconcile(book, root)
    write(book, [order(1)])  # shipped since
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_EXPORT, str(tmp_path), str(RULES_DIR), DAY.isoformat()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert [r["status"] for r in csv_rows(root)] == [rules.PAID_NOT_DESPATCHED]  # the last whole files
    assert list(root.glob(".staging-*")), "the killed run staged its Parquet files"
    reconcile(book, root)
    assert [r["status"] for r in csv_rows(root)] == [rules.MATCHED]
    left = [
        p.relative_to(root)
        for p in root.rglob("*")
        if p.name.startswith(".") and p.name not in (".lock", ".made_at")
    ]
    assert not left, left


# -- a three-decimal currency -------------------------------------------------------------------
def test_an_order_paid_in_kuwaiti_dinars_keeps_shopifys_three_decimals(tmp_path: Path) -> None:
    """A GBP shop sells to Kuwait: Shopify states the customer's money in KWD, three decimals (fils).
    The row, the summary and the tie-out must say what Shopify says, not a figure rounded to two
    (the tie-out compared the rounded summary with the rounded ledger, and passed)."""
    book, root = Ledger(tmp_path / "ledger.duckdb"), exports_root(tmp_path)
    write(book, [order(1)])
    kwd = finance_set(order(1))
    fils = {"total_price": D("11.385"), "subtotal": D("11.385"), "current_total_price": D("11.385"),
            "received": D("11.385"), "net_payment": D("11.385"), "tax": D("1.898")}  # fmt: skip
    money = {k: Amount(getattr(kwd.order, k).shop, v) for k, v in fils.items()}
    line = replace(kwd.lines[0], unit_price=Amount(D("15.00"), D("5.693")))  # 2 × 5.693 = 11.386: Shopify's
    kwd = replace(kwd, order=replace(kwd.order, currency="KWD", **money), lines=(line,))
    with book.transaction() as con:
        finance_orders.replace_orders(con, [kwd])
    reconcile(book, root)
    finance_exports.summarise_days(root, [DAY], rules.STATUSES)
    (row,) = finance_exports.read_orders(root, [DAY])
    assert (row["currency"], row["total_price"], row["tax"]) == ("KWD", D("11.385"), D("1.898"))
    assert row["despatched_value"] == D("11.386")  # two units at Shopify's unit price
    (shown,) = csv_rows(root)
    assert (shown["total_price"], shown["tax"], shown["despatched_value"]) == ("11.385", "1.898", "11.386")
    # The shop's amounts in pounds, two decimals, as Shopify states them.
    assert shown["total_price_shop"] == f"{row['total_price_shop']:.2f}"
    (summary,) = finance_exports.read_daily_summaries(root, [DAY], rules.STATUSES)
    assert (summary["revenue"], summary["matched_value"]) == (D("11.385"), D("11.385"))
    with (root / DAY.isoformat() / finance_exports.DAILY_SUMMARY).open(
        encoding="utf-8-sig", newline=""
    ) as fh:
        (text,) = csv.DictReader(fh)
    assert (text["revenue"], text["despatched_value"]) == ("11.385", "11.386")
    assert text["revenue_shop"] == f"{summary['revenue_shop']:.2f}"


# -- day files of two releases in one month ---------------------------------------------------------
def test_a_month_of_day_files_from_two_releases_still_summarises(tmp_path: Path) -> None:
    """A release adds a column to the day files (0007 added `units_returned_reusable`). Finance then
    re-runs the first day of the month; the other days keep the files of the release before. The
    summaries and the checks read the month's files together: they must still read them, not fail
    on the older files' missing column until someone backfills the whole month."""
    book, root = Ledger(tmp_path / "ledger.duckdb"), exports_root(tmp_path)
    second = DAY + timedelta(days=1)
    write(book, [order(1), order(2, day=second)])
    reconcile_days(book, root, DAY, second + timedelta(days=1), AS_OF, RULES)
    finance_exports.summarise_days(root, [DAY, second], rules.STATUSES)
    older = root / second.isoformat() / finance_exports.ORDERS_PARQUET  # as the release before wrote it
    with finance_exports.files_connection() as con:
        con.execute(
            f"COPY (SELECT * EXCLUDE (units_returned_reusable) FROM read_parquet('{older}')) TO '{older}.old' "
            "(FORMAT parquet)"
        )
    older.with_name(older.name + ".old").replace(older)
    older_csv = older.with_name(finance_exports.ORDERS_CSV)
    with older_csv.open(encoding="utf-8-sig", newline="") as fh:
        kept = [{k: v for k, v in r.items() if k != "units_returned_reusable"} for r in csv.DictReader(fh)]
    with older_csv.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.DictWriter(fh, list(kept[0]))
        out.writeheader()
        out.writerows(kept)
    written = finance_exports.summarise_days(root, [DAY], rules.STATUSES)
    assert root / DAY.isoformat() / finance_exports.DAILY_SUMMARY in written
    month = finance_exports.read_daily_summaries(root, [DAY, second], rules.STATUSES)
    assert [(r["order_date"], r["orders"], r["matched_orders"]) for r in month] == [
        (DAY, 1, 1),
        (second, 1, 1),
    ]
    assert len(finance_exports.read_orders(root, [DAY, second])) == 2
    assert finance_exports.status_totals(root, [DAY, second], (rules.MATCHED,))[rules.MATCHED][0] == 2
    # The month's orders file finance opens: every value under its own heading, the older day's
    # missing column empty.
    month_csv = root / DAY.strftime("%Y-%m") / finance_exports.ORDERS_CSV
    with month_csv.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [
        (r["order_date"], r["status"], r["shopify_order_id"], r["units_returned_reusable"]) for r in rows
    ] == [
        (DAY.isoformat(), rules.MATCHED, "gid://shopify/Order/1", "0"),
        (second.isoformat(), rules.MATCHED, "gid://shopify/Order/2", ""),
    ]
    assert all(None not in r for r in rows)  # no row longer than the heading
    assert month_csv.read_bytes().startswith(b"\xef\xbb\xbforder_date,")  # still Excel's UTF-8
    assert {r["customer_name"] for r in rows} == {"'=cmd|' /C calc'!A0"}  # still formula-safe


# -- a check counting what it lists ---------------------------------------------------------------
def test_the_cancelled_check_counts_every_order_not_the_fifty_it_lists(tmp_path: Path) -> None:
    """A warehouse glitch ships 60 cancelled orders: the check must say 60 (it lists the 50 largest)."""
    write(Ledger(tmp_path / "ledger.duckdb"), [order(n, cancelled=True) for n in range(1, 61)])
    check = evaluations(materialise(tmp_path))["cancelled_orders_not_despatched"]
    assert not check.passed
    assert check.metadata["orders"].value == 60 and check.description.startswith("60 "), check.description
