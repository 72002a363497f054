import dagster as dg

from sync_pipeline.defs.inventory.assets import (
    peoplevox_availability_changes,
    peoplevox_inventory_snapshots,
    shopify_inventory_levels,
)
from sync_pipeline.defs.inventory.partitions import stock_hour_partitions

stock_reconcile_job = dg.define_asset_job(
    "stock_reconcile_job",
    selection=[peoplevox_inventory_snapshots, shopify_inventory_levels],
    partitions_def=stock_hour_partitions,
    description="Read every item's availability from Peoplevox and push what differs to Shopify (hourly).",
)

stock_changes_job = dg.define_asset_job(
    "stock_changes_job",
    selection=[peoplevox_availability_changes, shopify_inventory_levels],
    description="Re-read the items Peoplevox's availability callbacks named and push what changed.",
)
