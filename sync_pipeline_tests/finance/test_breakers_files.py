"""Finance breakers on a real ledger and real files (no sandboxes): what finance opens when
reconciliations overlap or die half way, and money Shopify states to a tenth of a penny."""

from __future__ import annotations

import csv
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.reconcile import exports_root, reconcile_days
from sync_pipeline.lib.ledger import Ledger, finance_exports
from sync_pipeline_tests.finance.factories import AS_OF, DAY, write
from sync_pipeline_tests.finance.test_assets_and_checks import order
from sync_pipeline_tests.finance.world import RULES


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
