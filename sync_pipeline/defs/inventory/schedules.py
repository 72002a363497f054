import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inventory.jobs import stock_reconcile_job

# Five past each hour, the hour that just ended: the full reconcile that catches anything callbacks
# missed (polling is the truth) and publishes slow sellers still waiting for room in Shopify's bucket.
stock_reconcile_hourly = dg.build_schedule_from_partitioned_job(
    stock_reconcile_job,
    minute_of_hour=5,
    name="stock_reconcile_hourly",
    default_status=brand.schedule_status("stock"),
)
