import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inventory.assets import (
    peoplevox_availability_changes,
    peoplevox_inventory_snapshots,
    shopify_inventory_levels,
)
from sync_pipeline.defs.inventory.partitions import stock_hour_partitions

# In one process, as the orders and despatches jobs: a stock run is two short steps and their
# checks, and the multiprocess executor started a process per step and per check. Measured with
# benchmarks/stock_flow.py (b) on the shared 2-core host (load 40): each step process took 1-2 min
# to start, so one incremental run took 7 min for 40 s of work. Pools and the blocking
# `stock_feed_plausible` check work the same in one process.
stock_reconcile_job = dg.define_asset_job(
    "stock_reconcile_job",
    selection=[peoplevox_inventory_snapshots, shopify_inventory_levels],
    partitions_def=stock_hour_partitions,
    executor_def=dg.in_process_executor,
    tags=brand.SHARED_RUN_SLOTS,
    description="Read every item's availability from Peoplevox and push what differs to Shopify (hourly).",
)

stock_changes_job = dg.define_asset_job(
    "stock_changes_job",
    selection=[peoplevox_availability_changes, shopify_inventory_levels],
    executor_def=dg.in_process_executor,
    tags=brand.SHARED_RUN_SLOTS,
    description="Re-read the items Peoplevox's availability callbacks named and push what changed.",
)
