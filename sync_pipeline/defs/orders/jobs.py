import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.orders.assets import (
    peoplevox_sales_order_statuses,
    peoplevox_sales_orders,
    shopify_orders,
)

# In one process (like despatches_job): the multiprocess executor claims a step's pool slot and
# then starts the step's process, so on a busy host each run held its pool (then one
# `shopify_api` or `peoplevox_api` pool) 20-25 s before doing anything, while the despatches steps
# queued behind it. Each flow has its own pools now, but a slot held idle still holds up the same
# flow's next step.
orders_ingest_job = dg.define_asset_job(
    "orders_ingest_job",
    selection=[shopify_orders],
    executor_def=dg.in_process_executor,
    tags=brand.SHARED_RUN_SLOTS,
    description="Read Shopify orders changed since the cursor into the ledger.",
)
# Release and status runs leave out `brand.SHARED_RUN_SLOTS`: two of the brand's run slots are theirs.
orders_release_job = dg.define_asset_job(
    "orders_release_job",
    selection=[peoplevox_sales_orders],
    executor_def=dg.in_process_executor,
    description="Release due orders to Peoplevox; push changes to orders already there.",
)
orders_status_job = dg.define_asset_job(
    "orders_status_job",
    selection=[peoplevox_sales_order_statuses],
    executor_def=dg.in_process_executor,
    description="Bring Peoplevox sales-order statuses into the ledger.",
)
