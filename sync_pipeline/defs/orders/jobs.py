import dagster as dg

from sync_pipeline.defs.orders.assets import (
    peoplevox_sales_order_statuses,
    peoplevox_sales_orders,
    shopify_orders,
)

orders_ingest_job = dg.define_asset_job(
    "orders_ingest_job",
    selection=[shopify_orders],
    description="Read Shopify orders changed since the cursor into the ledger.",
)
orders_release_job = dg.define_asset_job(
    "orders_release_job",
    selection=[peoplevox_sales_orders],
    description="Release due orders to Peoplevox; push changes to orders already there.",
)
orders_status_job = dg.define_asset_job(
    "orders_status_job",
    selection=[peoplevox_sales_order_statuses],
    description="Bring Peoplevox sales-order statuses into the ledger.",
)
