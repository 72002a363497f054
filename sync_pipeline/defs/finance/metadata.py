"""Metadata for the finance assets, as a finance reader sees it in the Dagster UI."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from sync_pipeline.defs.markdown import count_table, rows_table
from sync_pipeline.lib.domain.reconciliation import STATUSES
from sync_pipeline.lib.flows.finance.read_money import MoneyReport
from sync_pipeline.lib.flows.finance.read_returns import ReturnsReport
from sync_pipeline.lib.flows.finance.reconcile import ReconcileReport


def money_metadata(report: MoneyReport, backfill: bool) -> dict[str, object]:
    return {
        "mode": "backfill" if backfill else "incremental",
        "orders_read": report.orders_read,
        "dagster/row_count": report.orders_read,
        # Too big to read whole under Shopify's query cost cap: not written, held with an exception.
        "orders_unreadable": report.unreadable,
        "orders_by_financial_status": count_table(("financial status", "orders"), report.by_status or {}),
        "cursor_updated_at": report.cursor or "",
        # False: a normal run stopped at `money_read_max_seconds` with orders left (the next goes on).
        "caught_up": report.caught_up,
    }


def yield_metadata(yielded_seconds: float) -> dict[str, object]:
    """How long the money read left Shopify's bucket to the flows customers wait for."""
    return {
        "shopify_yielded_seconds": round(yielded_seconds, 1),
        "shopify_yielded": f"waited {yielded_seconds:.0f} s for the storefront's flows (orders, "
        "fulfilments, stock) to leave room in Shopify's rate limit",
    }


def returns_metadata(report: ReturnsReport, backfill: bool) -> dict[str, object]:
    return {
        "mode": "backfill" if backfill else "incremental",
        "rows_read": report.rows_read,
        "new_return_rows": report.new_rows,
        "dagster/row_count": report.new_rows,
        "units_returned": report.units_returned,
        "units_reusable": report.units_reusable,
        "orders_counted_in_line_units": report.orders_counted,
        "sales_orders_not_ours": rows_table(
            [(n,) for n in report.unmatched], "| sales order returned that is none of ours |\n|---|"
        ),
        "cursor_return_date": report.cursor or "",
    }


def reconciliation_metadata(report: ReconcileReport) -> dict[str, object]:
    by_status = {s: report.by_status.get(s, 0) for s in STATUSES}
    gaps = [
        (g.order_name, g.order_date, g.status, g.currency, g.total_price, g.received, g.refunded,
         g.despatched_value, g.units_to_despatch, g.units_despatched, g.units_returned)
        for g in report.gaps
    ]  # fmt: skip
    return {
        "order_days": f"{report.start} to {report.end} (exclusive)",
        "orders": report.orders,
        "dagster/row_count": report.orders,
        "orders_by_status": count_table(("status", "orders"), by_status),
        "largest_gaps": rows_table(
            gaps,
            "| order | placed | status | currency | total | received | refunded | despatched value | units to "
            "despatch | despatched | returned |\n|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ),
        "packages_brought_up_to_date": report.packages_refreshed,
        "waiting_packages_recounted": report.waiting_packages_rewritten,
        "export_folders": _paths(report.folders),
    }


def summary_metadata(rows: Sequence[dict[str, Any]], written: Sequence[Path]) -> dict[str, object]:
    table = [
        (r["order_date"], r["currency"], r["orders"], r["revenue"], r["refunds"], r["revenue"] - r["refunds"],
         r["despatched_value"], r["matched_value"], r["revenue"] - r["matched_value"])
        for r in rows
    ]  # fmt: skip
    return {
        "days": len({r["order_date"] for r in rows}),
        "dagster/row_count": len(rows),
        "summary": rows_table(
            table,
            "| day | currency | orders | revenue | refunds | net | despatched value | matched | not matched "
            "|\n|---|---|---:|---:|---:|---:|---:|---:|---:|",
            limit=62,
        ),
        "files_written": _paths(written),
    }


def _paths(paths: Sequence[Path]) -> dg.MetadataValue:
    shown = "\n".join(f"- `{p}`" for p in paths[:40])
    more = f"\n- … and {len(paths) - 40} more" if len(paths) > 40 else ""
    return dg.MetadataValue.md(shown + more or "(none)")
