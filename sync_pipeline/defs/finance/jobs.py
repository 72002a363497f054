import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.finance.assets import (
    daily_summary,
    order_reconciliation,
    peoplevox_returns,
    shopify_order_money,
)
from sync_pipeline.defs.orders.partitions import order_date_partitions

finance_job = dg.define_asset_job(
    "finance_job",
    selection=[shopify_order_money, peoplevox_returns, order_reconciliation, daily_summary],
    partitions_def=order_date_partitions,
    tags=brand.SHARED_RUN_SLOTS,
    description="Read Shopify money and Peoplevox returns, reconcile the order days and write finance's files.",
)
