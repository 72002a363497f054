"""Asset metadata for people reading the Dagster UI: counts, tables, what to look at next."""

import dagster as dg

from sync_pipeline.defs.markdown import count_table
from sync_pipeline.lib.flows.despatches.read import ReadReport
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments


def read_metadata(report: ReadReport, backfill: bool) -> dict[str, object]:
    return {
        "mode": "backfill" if backfill else "incremental",
        "packages_read": report.packages_read,
        "new_packages": report.new_packages,
        "tracking_numbers_arrived": report.tracking_added,
        # A known package re-reported with another number (a relabel) or other lines.
        "tracking_numbers_changed": report.tracking_changed,
        "packages_with_changed_lines": report.items_changed,
        "despatches_for_unknown_orders": report.unknown_orders,
        "packages_named_by_callbacks": report.hinted,
        # Held whole with a `despatch_unreadable` exception (no despatch date, a row that does not read).
        "packages_held": report.held,
        "dagster/row_count": report.new_packages,
        "cursor_despatch_date": report.cursor or "",
        "overlap_read_again": not report.overlap_unchanged,
    }


def fulfil_metadata(report: FulfilReport, ledger: Ledger, caught_up: bool) -> dict[str, object]:
    with ledger.transaction() as con:
        packages = ledger_despatches.state_counts(con)
        fulfilments = ledger_fulfilments.state_counts(con)
        orders = ledger_despatches.despatch_state_counts(con)
    made = "\n".join(f"| {p} | {name} | {tracking or '—'} |" for p, name, tracking in report.fulfilments[:20])
    return {
        **report.summary,
        "dagster/row_count": report.fulfilled,
        "in_doubt_resolved": count_table(("outcome", "fulfilments"), dict(report.in_doubt)),
        # Packages whose lines sat elsewhere than the warehouse's location: moved there, refused, or unknown.
        "fulfilment_order_moves": count_table(("outcome", "packages"), dict(report.moves)),
        "packages_by_state": count_table(("state", "packages"), packages),
        "fulfilments_by_state": count_table(("state", "fulfilments"), fulfilments),
        "orders_by_despatch_state": count_table(("despatch state", "orders"), orders),
        "fulfilled_this_run": dg.MetadataValue.md(
            "| package | Shopify fulfilment | tracking |\n|---|---|---|\n" + (made or "| (none) | | |")
        ),
        # Read by the sensor: False when the run stopped at its time limit with more to do, or put
        # packages Shopify did not take (throttled until the client gave up) back to pending.
        "caught_up": caught_up,
    }
