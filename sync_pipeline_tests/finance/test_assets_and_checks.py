"""finance/order_reconciliation and finance/daily_summary materialised for real (a DuckDB ledger on
disk, files on disk), and the four checks passing on a healthy ledger and failing on trouble."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import dagster as dg

from sync_pipeline.defs.finance.assets import daily_summary, order_reconciliation
from sync_pipeline.defs.finance.checks import (
    cancelled_orders_not_despatched,
    paid_not_despatched_within_sla,
    reconciliation_ties_out,
    refunds_match_returns,
)
from sync_pipeline.defs.finance.scope import PARTITION
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.reconcile import exports_root
from sync_pipeline.lib.ledger import Ledger, finance_exports
from sync_pipeline_tests.finance.factories import DAY, Generated, Line, write

REPO_ROOT = Path(__file__).resolve().parents[2]
D = Decimal
CHECKS = [reconciliation_ties_out, paid_not_despatched_within_sla, cancelled_orders_not_despatched,
          refunds_match_returns]  # fmt: skip


def order(number: int, **changes: object) -> Generated:
    base = Generated(
        number=number, day=DAY, currency="GBP", cancelled=False,
        lines=[Line("TEE-S", 2, 0, True, D("15.00"), [])],
        settled=[{0: 2}], waiting=[], returns=[], received=D("30.00"), refunded=D("0.00"),
        outstanding=D("0.00"), capturable=D("0.00"), paid_hours_ago=100, total=D("30.00"),
    )  # fmt: skip
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def materialise(tmp_path: Path, selection: dg.AssetSelection | None = None) -> dg.ExecuteInProcessResult:
    # A run of checks alone cannot take a partition key (Dagster wants a partitioned asset in the
    # run), so it names its day with the partition tag, which the checks read (defs/finance/scope).
    return dg.materialize(
        [order_reconciliation, daily_summary, *CHECKS],
        selection=selection,
        partition_key=None if selection else DAY.isoformat(),
        tags={PARTITION: DAY.isoformat()} if selection else None,
        resources={
            "ledger": LedgerResource(data_dir=str(tmp_path)),
            "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_healthy_day_is_matched_exported_and_passes_every_check(tmp_path: Path) -> None:
    hostile = [  # (customer, note) as typed into Shopify, then as the CSV must hold them
        ("=cmd|' /C calc'!A0", None, "'=cmd|' /C calc'!A0", ""),
        ("@SUM(1+1)", "\t=HYPERLINK(\"http://evil.example\")", "'@SUM(1+1)", "'\t=HYPERLINK(\"http://evil.example\")"),
        ("+44 (0)7700 900123", "-3.10", "+44 (0)7700 900123", "-3.10"),  # phone-like: left alone
    ]  # fmt: skip
    write(Ledger(tmp_path / "ledger.duckdb"), [
        order(1, customer=hostile[0][0]),
        order(2, currency="EUR", customer=hostile[1][0], note=hostile[1][1]),
        order(3, cancelled=True, settled=[], received=D("30.00"), refunded=D("30.00"), customer=hostile[2][0],
              note=hostile[2][1]),
    ])  # fmt: skip
    result = materialise(tmp_path)
    assert result.success
    checks = evaluations(result)
    assert all(e.passed for e in checks.values()), {n: e.description for n, e in checks.items()}
    meta = result.asset_materializations_for_node("finance__order_reconciliation")[0].metadata
    assert meta["orders"].value == 3 and "matched | 3" in meta["orders_by_status"].value
    folder = exports_root(tmp_path) / DAY.isoformat()
    raw = (folder / "order_reconciliation.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbforder_date,")  # UTF-8 with a BOM, for Excel
    with (folder / "order_reconciliation.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    # A cell that would start a formula is shown with a leading apostrophe; numbers are left alone.
    assert sorted((r["customer_name"], r["note"]) for r in rows) == sorted((h[2], h[3]) for h in hostile)
    assert {r["status"] for r in rows} == {"matched"} and {r["currency"] for r in rows} == {"GBP", "EUR"}
    assert (folder / "order_reconciliation.parquet").exists() and (folder / "daily_summary.csv").exists()
    month = exports_root(tmp_path) / DAY.strftime("%Y-%m")
    assert {p.name for p in month.iterdir()} == {
        "order_reconciliation.csv",
        "daily_summary.csv",
        "month_summary.csv",
    }


def test_checks_fail_on_trouble_with_the_right_severity(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "ledger.duckdb")
    write(book, [
        order(1),
        order(2, cancelled=True),  # cancelled in Shopify, shipped anyway
        order(3, settled=[]),  # paid 100 hours ago, nothing shipped (SLA 48 h)
        order(4, lines=[Line("TEE-S", 2, 0, True, D("15.00"), [("RETURN", 1)])]),  # refund waits for the goods
        order(5, returns=[{0: 1}]),  # a return the customer was never refunded for
        order(7, returned_elsewhere={"R9": {"MUG-RED": 1}}),  # an item back that the order never had
    ])  # fmt: skip
    checks = evaluations(materialise(tmp_path))
    assert not checks["cancelled_orders_not_despatched"].passed
    assert checks["cancelled_orders_not_despatched"].severity == dg.AssetCheckSeverity.ERROR
    late = checks["paid_not_despatched_within_sla"]
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN  # 30.00 is under the threshold
    mismatch = checks["refunds_match_returns"]
    assert not mismatch.passed and mismatch.severity == dg.AssetCheckSeverity.WARN
    assert (
        mismatch.metadata["refunded_not_returned"].value == 1
        and mismatch.metadata["returned_not_refunded"].value == 1
    )
    stray = mismatch.metadata["orders_with_items_returned_not_on_the_order"].value
    assert mismatch.metadata["returned_not_on_the_order"].value == 1
    assert "| #7 | quantity_mismatch | 1 | 0 | 2 |" in stray, stray
    assert checks["reconciliation_ties_out"].passed  # every status is reported, so it still ties out

    # Above the value threshold (finance.yaml: 1000.00) an order not despatched is an ERROR.
    write(book, [order(6, settled=[], total=D("1500.00"))])
    late = evaluations(materialise(tmp_path))["paid_not_despatched_within_sla"]
    assert not late.passed and late.severity == dg.AssetCheckSeverity.ERROR


def test_a_summary_that_does_not_match_shopify_fails_the_tie_out(tmp_path: Path) -> None:
    book = Ledger(tmp_path / "ledger.duckdb")
    write(book, [order(1), order(2)])
    assert evaluations(materialise(tmp_path))["reconciliation_ties_out"].passed
    # A hand-edited file (a penny off) no longer ties out to Shopify.
    summary = exports_root(tmp_path) / DAY.isoformat() / "daily_summary.csv"
    text = summary.read_text(encoding="utf-8")
    summary.write_text(text.replace(",60.00,", ",60.01,", 1), encoding="utf-8")
    only_check = dg.AssetSelection.checks(reconciliation_ties_out)
    tampered = evaluations(materialise(tmp_path, only_check))["reconciliation_ties_out"]
    assert not tampered.passed and tampered.severity == dg.AssetCheckSeverity.ERROR
    # An order Shopify has for the day that the files do not hold fails it too.
    write(book, [order(1), order(2)])
    materialise(tmp_path)
    write(book, [order(3)])  # read from Shopify after the files were written
    missing = evaluations(materialise(tmp_path, only_check))["reconciliation_ties_out"]
    assert not missing.passed
    rows = finance_exports.read_daily_summaries(exports_root(tmp_path), [DAY], rules.STATUSES)
    assert rows[0]["orders"] == 2  # the files still say two; Shopify says three
