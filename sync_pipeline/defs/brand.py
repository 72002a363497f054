"""The brand this code location serves: its asset keys and pools carry its name.

One deployment runs each brand as its own code location against one Dagster instance, and in
an instance asset keys and pools are global: two locations defining `shopify/orders` would share
one materialisation history, and one `shopify_api` pool would make one brand's flash sale queue
another brand's Shopify steps. So with `SYNC_BRAND=acme` every key starts with the brand
(`acme/shopify/orders`) and every pool is the brand's own (`acme/shopify_api`). Without it (the
embedded default, `make demo`) keys and pools are the plain names.

Every asset, check and dependency in `defs/` names its key with `key(...)` and its pool with one
of the constants below; `sync_pipeline_tests/deploy/test_brand_names.py` fails on any that does not.
"""

import dagster as dg

from sync_pipeline.settings import SyncSettings

# Read once, when the code location loads: a location serves one brand for its whole life.
_SETTINGS = SyncSettings()
BRAND: str | None = _SETTINGS.brand


def key(*parts: str) -> dg.AssetKey:
    """The asset key `parts`, under this brand's prefix when there is one."""
    return dg.AssetKey([BRAND, *parts] if BRAND else list(parts))


def pool(name: str) -> str:
    """A pool of this brand's own; default_limit in dagster.yaml applies to it as to any pool."""
    return f"{BRAND}/{name}" if BRAND else name


# One step at a time per budget (dagster.yaml `pools.default_limit: 1`): each client paces itself
# against its API's shared budget, and the ledger file has one writer at a time.
SHOPIFY_API = pool("shopify_api")
# Backfills' Shopify reads (defs/backfill_pool.py): a pool of their own, so a long backfill never
# holds the slot live ingest, fulfilments and stock pushes wait for. Bulk reads spend no bucket;
# a paginated backfill shares the bucket, which the client paces by Shopify's throttle status.
SHOPIFY_BACKFILL = pool("shopify_backfill")
PEOPLEVOX_API = pool("peoplevox_api")
LEDGER = pool("duckdb")

# Run slots: a brand gets 8 runs at once (dagster.yaml, per code location); every job but the
# orders release and status runs carries this tag, which dagster.yaml limits to 6 per brand. Runs
# that wait for a pool (ingest, despatches, stock and catalogue all need `shopify_api`) can then
# never take the last two slots, and getting orders into the warehouse never queues behind them.
SHARED_RUN_SLOTS = {"sync/run_slots": pool("shared")}

# One retry policy for every flow's assets (was copied into each defs module); jittered so a
# brand's flows that failed together do not all retry at the same moment.
RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def sensor_status(flow: str) -> dg.DefaultSensorStatus:
    """RUNNING unless SYNC_FLOWS leaves `flow` out. A default only: once someone starts or stops a
    sensor in the UI, the instance remembers that instead."""
    return dg.DefaultSensorStatus.RUNNING if _SETTINGS.automates(flow) else dg.DefaultSensorStatus.STOPPED


def schedule_status(flow: str) -> dg.DefaultScheduleStatus:
    """As `sensor_status`, for schedules."""
    return dg.DefaultScheduleStatus.RUNNING if _SETTINGS.automates(flow) else dg.DefaultScheduleStatus.STOPPED
