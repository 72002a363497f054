"""Reconcile a range of order days and write finance's files.

One ledger transaction brings the despatched units up to date (packages changed since the last
pass), reconciles the orders placed on those days (SQL, `lib/ledger/reconciliation.py`) and writes
the result out of the ledger as each day's Parquet file (staged); each day's CSV is made from it
and both are put in place once the transaction is over. The summaries and month rollups are then
made from the files alone (`summarise`). Only the reconciliation and the Parquet files hold the
ledger's lock.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.domain.reconciliation import STATUSES
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.finance.exports import CELL_RULE
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_units, reconciliation
from sync_pipeline.lib.ledger.reconciliation import Gap


def exports_root(data_dir: Path) -> Path:
    """Finance's files live under the brand's own data directory."""
    return data_dir / "exports" / "finance"


@dataclass
class ReconcileReport:
    start: date
    end: date
    orders: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    packages_refreshed: int = 0
    gaps: list[Gap] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def reconcile_days(
    ledger: Ledger, root: Path, start: date, end: date, as_of: datetime, sla: timedelta
) -> ReconcileReport:
    """Orders placed on [start, end), as of `as_of`: one status each, written to each day's folder."""
    report = ReconcileReport(start, end)
    with ExitStack() as keep:
        with ledger.transaction() as con:
            report.packages_refreshed = finance_units.refresh_package_units(con, states.SETTLED)
            counts = reconciliation.reconcile(con, start, end, as_of, sla)
            report.orders, report.by_status = counts.orders, counts.by_status
            report.gaps = reconciliation.largest_gaps(con)
            result = keep.enter_context(finance_exports.kept_result(con, root))
        # The ledger is free again: the CSVs are made from the staged Parquet files.
        report.folders = finance_exports.export_orders(result, root, start, end, CELL_RULE)
    return report


def summarise(root: Path, start: date, end: date) -> list[Path]:
    """Each day's summary and the rollup of every month the days fall in, from the day files."""
    return finance_exports.summarise_days(root, finance_exports.days_between(start, end), STATUSES)
