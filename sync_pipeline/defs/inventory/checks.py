from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inventory.assets import (
    peoplevox_availability_changes,
    peoplevox_inventory_snapshots,
    shopify_inventory_levels,
)
from sync_pipeline.defs.markdown import rows_table
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.ledger import stock_levels, stock_snapshots

RUNBOOK = "docs/stock_flow.md, runbook: check Peoplevox, then `sync-pipeline stock accept --by <you>` if the figures are right"


def _plausible(context: dg.AssetCheckExecutionContext, ledger: LedgerResource) -> dg.AssetCheckResult:
    """The snapshot this run took is plausible (the circuit breaker); a suspect one blocks the push."""
    with ledger.get_ledger().transaction() as con:
        taken = stock_snapshots.for_run(con, context.run.run_id)
    if not taken:
        return dg.AssetCheckResult(passed=True, description="no snapshot taken in this run (nothing to read)")
    snap = taken[0]
    suspect = snap.verdict == stock_snapshots.SUSPECT
    return dg.AssetCheckResult(
        passed=not suspect,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"snapshot {snap.snapshot_id} is suspect: {snap.verdict_reason}. Nothing is pushed. {RUNBOOK}"
            if suspect
            else f"snapshot {snap.snapshot_id} is plausible"
        ),
        metadata={
            "snapshot_id": snap.snapshot_id,
            "verdict": snap.verdict,
            "rows_read": snap.rows_read,
            "items_with_stock_before": snap.compared or 0,
            "dropping_to_zero": snap.zero_drops or 0,
            "total_before": snap.total_before or 0,
            "total_after": snap.total_available,
        },
    )


@dg.asset_check(
    asset=peoplevox_inventory_snapshots, name="stock_feed_plausible", blocking=True, pool=brand.LEDGER
)
def full_snapshot_plausible(
    context: dg.AssetCheckExecutionContext, ledger: LedgerResource
) -> dg.AssetCheckResult:
    """Blocking: when more than `feed.max_zero_share` of the items with stock would drop to zero, or
    total available falls by more than `feed.max_total_drop` (stock.yaml), the push does not run."""
    return _plausible(context, ledger)


@dg.asset_check(
    asset=peoplevox_availability_changes, name="stock_feed_plausible", blocking=True, pool=brand.LEDGER
)
def changes_plausible(context: dg.AssetCheckExecutionContext, ledger: LedgerResource) -> dg.AssetCheckResult:
    """Blocking: the same circuit breaker on the items callbacks named, read again."""
    return _plausible(context, ledger)


@dg.asset_check(asset=shopify_inventory_levels, name="stock_drift", pool=brand.LEDGER)
def stock_drift(ledger: LedgerResource, business_rules: BusinessRulesResource) -> dg.AssetCheckResult:
    """After pushes settle, Shopify shows what it should: no SKU not pushed for
    `drift_settle_minutes` differs from its target by more than `drift_tolerance_units`
    (stock.yaml). Drift means pushes are failing or something else writes Shopify's stock."""
    stock = business_rules.load().stock
    settled_before = datetime.now(UTC) - timedelta(minutes=stock.drift_settle_minutes)
    with ledger.get_ledger().transaction() as con:
        count, worst = stock_levels.drifted(con, settled_before, stock.drift_tolerance_units)
    rows = [(p.sku, p.location_id.rsplit("/", 1)[-1], p.target, p.shopify_available,
             f"{(p.shopify_available or 0) - p.target:+}", p.last_outcome or "") for p in worst]  # fmt: skip
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{count} SKU-location(s) differ from their target by more than {stock.drift_tolerance_units} "
        f"unit(s) after {stock.drift_settle_minutes} min",
        metadata={
            "drifting": count,
            "worst": rows_table(
                rows,
                "| SKU | location | target | Shopify | difference | last push |\n|---|---|---:|---:|---:|---|",
            ),
        },
    )
