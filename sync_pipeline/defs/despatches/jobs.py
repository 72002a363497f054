import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.despatches.assets import peoplevox_despatches, shopify_fulfilments
from sync_pipeline.defs.despatches.partitions import despatch_date_partitions

# In one process: a despatches run is two short steps, and on a busy host starting a process per
# step (and per check) took longer than the steps themselves. Pools still hold each step back
# until its slot is free, across runs.
despatches_job = dg.define_asset_job(
    "despatches_job",
    selection=dg.AssetSelection.assets(peoplevox_despatches, shopify_fulfilments).without_checks(),
    partitions_def=despatch_date_partitions,
    executor_def=dg.in_process_executor,
    tags=brand.SHARED_RUN_SLOTS,
    description="Read new despatches from Peoplevox and fulfil each package in Shopify.",
)
# The checks look at the whole ledger (the quantities audit at two weeks of orders), so they run
# on their own clock, not after every despatches run.
despatches_checks_job = dg.define_asset_job(
    "despatches_checks_job",
    selection=dg.AssetSelection.checks_for_assets(shopify_fulfilments),
    executor_def=dg.in_process_executor,
    tags=brand.SHARED_RUN_SLOTS,
    description="The despatches checks: packages reach Shopify in time, quantities, tracking posted.",
)
