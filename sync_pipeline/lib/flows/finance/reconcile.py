"""Reconcile a range of order days and write finance's files.

One ledger transaction brings the despatched units up to date (packages changed since the last
pass, and packages the despatches flow has not settled yet counted in line units the way it will
settle them), reconciles the orders placed on those days (SQL, `lib/ledger/reconciliation.py`) and
writes the result out of the ledger as each day's Parquet file (staged); each day's CSV is made
from it and both are put in place once the transaction is over. The summaries and month rollups
are then made from the files alone (`summarise`). Only the reconciliation and the Parquet files
hold the ledger's lock.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.fulfilment import allocate, line_needs, settled_pool
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.reconciliation import STATUSES
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.finance.exports import CELL_RULE
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_units, reconciliation
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.reconciliation import Gap
from sync_pipeline.lib.ledger.records import utcnow


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
    waiting_packages_rewritten: int = 0  # of the packages not settled yet, those whose units changed
    gaps: list[Gap] = field(default_factory=list)
    folders: list[Path] = field(default_factory=list)


def reconcile_days(
    ledger: Ledger, root: Path, start: date, end: date, as_of: datetime, rules: BusinessRules
) -> ReconcileReport:
    """Orders placed on [start, end), as of `as_of`: one status each, written to each day's folder."""
    report = ReconcileReport(start, end)
    with ExitStack() as keep:
        with ledger.transaction() as con:
            report.packages_refreshed = finance_units.refresh_package_units(con, states.SETTLED)
            report.waiting_packages_rewritten = _waiting_in_line_units(con, rules)
            counts = reconciliation.reconcile(con, start, end, as_of, rules.finance.despatch_sla)
            report.orders, report.by_status = counts.orders, counts.by_status
            report.gaps = reconciliation.largest_gaps(con)
            result = keep.enter_context(finance_exports.kept_result(con, root))
            made_at = utcnow()  # in the ledger's order: its transactions are serialised
        # The ledger is free again: the CSVs are made from the staged Parquet files.
        report.folders = finance_exports.export_orders(result, root, start, end, CELL_RULE, made_at)
    return report


def _waiting_in_line_units(con: duckdb.DuckDBPyConnection, rules: BusinessRules) -> int:
    """Packages shipped and read but not settled yet by the despatches flow (it waits for tracking)
    as the line units they complete, the way that flow will settle them (`plan.py`: after what the
    order's settled packages account for, with the parts they left waiting): a bundle's parts are
    one unit at the bundle's price, not one unit per item. Items no line can use stay item units
    (over-despatch); parts of a bundle not complete yet count when the rest arrives. Orders the
    orders flow has no snapshot of keep their item units. Returns how many packages' rows changed
    (only those are written)."""
    order_ids = finance_units.orders_with_waiting_packages(con, states.SETTLED)
    orders = ledger_orders.get_many(con, order_ids)
    units: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    for oid, packages in ledger_despatches.for_orders(con, order_ids).items():
        row = orders.get(oid)
        if row is None or not row.snapshot:
            continue
        needs = line_needs(
            ShopOrder.model_validate(row.snapshot).lines, rules.bundles, rules.sku_overrides.overrides
        )
        accounted: Counter[str] = Counter()
        shipped: Counter[str] = Counter()
        excess: Counter[str] = Counter()
        for p in packages:
            if p.state in states.SETTLED:
                accounted.update(p.line_quantities or {})
                shipped.update(p.items)
                excess.update(p.excess_items or {})
        pool = settled_pool(needs, accounted, shipped, excess)
        for p in packages:
            if p.state in states.SETTLED:
                continue
            allocation = allocate(needs, accounted, pool, p.items)
            units[p.package_number] = (allocation.lines, dict(allocation.excess))
            accounted.update(allocation.lines)
            pool = allocation.pool
    return finance_units.replace_waiting_units(con, units)


def summarise(root: Path, start: date, end: date) -> list[Path]:
    """Each day's summary and the rollup of every month the days fall in, from the day files."""
    return finance_exports.summarise_days(root, finance_exports.days_between(start, end), STATUSES)
