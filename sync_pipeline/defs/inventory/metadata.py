"""Asset metadata for people reading the Dagster UI: counts, tables, what to look at next."""

from sync_pipeline.defs.markdown import count_table, rows_table
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.flows.stock.snapshot import SnapshotReport


def snapshot_metadata(report: SnapshotReport) -> dict[str, object]:
    """Totals per site, and the change from the previous accepted full snapshot."""
    before = report.previous_totals_by_site
    sites = sorted(set(report.totals_by_site) | set(before))
    by_site = [
        (site, f"{before.get(site, 0):,}" if before else "—", f"{report.totals_by_site.get(site, 0):,}",
         f"{report.totals_by_site.get(site, 0) - before.get(site, 0):+,}" if before else "—")
        for site in sites
    ]  # fmt: skip
    metadata: dict[str, object] = {
        "verdict": report.verdict,
        "why_suspect": report.reason or "",
        "snapshot_id": report.snapshot_id if report.snapshot_id is not None else -1,
        "rows_read": report.rows_read,
        "items_asked": report.items_asked,
        "figures_changed": report.changed,
        "dropping_to_zero": report.zero_drops,
        "compared_with_stock": report.compared,
        "total_before": report.total_before,
        "total_after": report.total_after,
        "available_by_site": rows_table(
            by_site, "| site | previous snapshot | this snapshot | change |\n|---|---:|---:|---:|"
        ),
        "dagster/row_count": report.rows_read,
        # Where the read's time went: Peoplevox's limiter (15 requests / 15 s) or the wire.
        "peoplevox_requests": report.cost.requests,
        "peoplevox_read": "items by name"
        if not report.cost.whole_report
        else ("every item" if report.kind == "full" else "every item, kept the items asked"),
        "peoplevox_pacer_wait_seconds": round(report.cost.pacer_wait_seconds, 2),
        "peoplevox_wire_seconds": round(report.cost.wire_seconds, 2),
    }
    if report.kind == "full":
        metadata["history_pruned"] = report.pruned
    else:
        metadata.update(
            {
                "queued_items_left": report.queue_left,
                "unreadable_codes_left_for_reconcile": report.unreadable,
            }
        )
    if report.hints is not None:
        metadata.update({"availability_callbacks": report.hints.callbacks, "items_named": report.hints.items,
                         "callbacks_naming_no_item": report.hints.unnamed})  # fmt: skip
    return metadata


def push_metadata(report: PushReport) -> dict[str, object]:
    totals = report.position_totals
    corrections = [(sku, loc.rsplit("/", 1)[-1], "—" if before is None else before, after,
                    f"{after - (before or 0):+}") for sku, loc, before, after in report.corrections]  # fmt: skip
    return {
        **report.summary,
        "dagster/row_count": report.applied,
        "snapshots_pushed": ", ".join(str(s) for s in report.snapshots) or "(none)",
        "listings_published": totals.get("listings", 0),
        "listings_differing_from_target": totals.get("differing", 0),
        "queued_items_for_next_run": report.queue_ready,
        "in_doubt_settled": count_table(("outcome", "pushes"), dict(report.in_doubt)),
        "pushes_by_state": count_table(("state", "pushes"), report.push_states),
        "largest_corrections": rows_table(
            corrections, "| SKU | location | Shopify before | pushed | change |\n|---|---|---:|---:|---:|"
        ),
        # Read by the sensor: False when work was left for the next run.
        "caught_up": report.caught_up,
    }
