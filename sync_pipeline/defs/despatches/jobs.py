import dagster as dg

from sync_pipeline.defs.despatches.assets import peoplevox_despatches, shopify_fulfilments
from sync_pipeline.defs.despatches.partitions import despatch_date_partitions

despatches_job = dg.define_asset_job(
    "despatches_job",
    selection=[peoplevox_despatches, shopify_fulfilments],
    partitions_def=despatch_date_partitions,
    description="Read new despatches from Peoplevox and fulfil each package in Shopify.",
)
