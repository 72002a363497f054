"""Asset metadata for people reading the Dagster UI: counts, tables, what to look at next."""

from datetime import datetime

import dagster as dg

from sync_pipeline.defs.markdown import count_table
from sync_pipeline.lib.flows.orders.ingest import IngestReport
from sync_pipeline.lib.flows.orders.release import ReleaseReport
from sync_pipeline.lib.flows.orders.statuses import StatusReport
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def ingest_metadata(report: IngestReport, window: tuple[datetime, datetime] | None) -> dict[str, object]:
    return {
        "mode": "backfill" if window else "incremental",
        "orders_read": report.orders_read,
        "orders_changed": report.orders_changed,
        "orders_left_to_webhook_bodies": report.orders_left_to_bodies,
        "dagster/row_count": report.orders_read,
        "changes_seen": count_table(("change", "orders"), dict(report.events)),
        "moved_to_state": count_table(("state", "orders"), dict(report.states)),
        "cursor_updated_at": report.cursor or "",
        # Read by the release sensor (it never opens the ledger).
        "next_release_due_at": _iso(report.next_release_due_at),
        "pending_changes": report.pending_changes,
        # False when the run stopped at its batch limit with more to read (read by the sensor).
        "caught_up": report.caught_up,
    }


def release_metadata(report: ReleaseReport, ledger: Ledger) -> dict[str, object]:
    with ledger.transaction() as con:
        states = ledger_orders.state_counts(con)
        next_due = ledger_orders.next_release_due(con, "awaiting_release")
        pending = len(ledger_orders.with_pending_change(con))
    injected = "\n".join(
        f"| {name} | {number} | {site} |" for name, number, site in report.injected_orders[:20]
    )
    return {
        **{k: v for k, v in report.summary.items()},
        "dagster/row_count": report.injected,
        "in_doubt_resolved": count_table(("outcome", "orders"), dict(report.in_doubt_resolved)),
        "changes_after_injection": count_table(("action", "orders"), dict(report.changes)),
        "orders_by_state": count_table(("state", "orders"), states),
        "injected_this_run": dg.MetadataValue.md(
            "| order | sales order | site |\n|---|---|---|\n" + (injected or "| (none) | | |")
        ),
        "next_release_due_at": _iso(next_due),
        "pending_changes": pending,
        # Read by the stock sensor (peoplevox_availability_events), as the status run's.
        "stock_items_hinted": report.stock_items_hinted,
    }


def status_metadata(report: StatusReport) -> dict[str, object]:
    return {
        "status_source": report.source,
        "from_report": report.from_report,
        "report_requests": report.report_requests,
        "from_callbacks": report.from_callbacks,
        "polled": report.polled,
        "changed": report.changed,
        "unknown_sales_orders": report.unknown_numbers,
        # Read by the stock sensor (peoplevox_availability_events): a stock run re-pushes these.
        "stock_items_hinted": report.stock_items_hinted,
        "dagster/row_count": report.changed,
        "new_statuses": count_table(("status", "orders"), dict(report.statuses)),
    }
