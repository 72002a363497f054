"""The brand this code location serves: its asset keys and pools carry its name.

One deployment runs each brand as its own code location against one Dagster instance, and in
an instance asset keys and pools are global: two locations defining `shopify/orders` would share
one materialisation history, and one `shopify_orders` pool would make one brand's flash sale queue
another brand's ingest. So with `SYNC_BRAND=acme` every key starts with the brand
(`acme/shopify/orders`) and every pool is the brand's own (`acme/shopify_orders`). Without it (the
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


# Each flow's API steps have a pool of their own, one step at a time unless raised (dagster.yaml
# `pools.default_limit: 1`; `dagster instance concurrency set <pool> N`). They used to share one
# `shopify_api` and one `peoplevox_api` slot because each process paced itself alone and two steps
# would have split a budget blindly: the rehearsal (session 8) then queued 73 % of its run time
# for those two slots while Peoplevox's limiter stood 61 % unused.
# Peoplevox: every process of the tenant paces through one shared file (lib/peoplevox/pacer.py), so
# steps in different pools never exceed the limit together; release and status take any free slot,
# the others leave PEOPLEVOX_ORDERS_RESERVE free (and borrow it while neither has asked). Release and status share one pool: both record
# the statuses they read from Peoplevox (release's change push reads the status it plans the
# cut-off from), so side by side an older read could be committed after a newer one.
PEOPLEVOX_ORDERS = pool("peoplevox_orders")  # release, status
PEOPLEVOX_STOCK = pool("peoplevox_stock")  # inventory snapshots, availability changes
PEOPLEVOX_DESPATCHES = pool("peoplevox_despatches")  # despatch reads
PEOPLEVOX_FINANCE = pool("peoplevox_finance")  # returns
PEOPLEVOX_CATALOGUE = pool("peoplevox_catalogue")  # item types
# Shopify: one cost bucket per store; each client's CostPacer reserves its own requests' cost and
# learns the bucket (other steps' spend included) from every response's throttle status, and a
# THROTTLED answer is waited out and retried, so steps side by side cost a retry now and then, not
# a lost write. Two fulfil steps at once are safe (docs/despatches_flow.md), and so are two stock
# pushes (`stock/test_two_pushes.py`): `shopify_fulfil` and `shopify_stock` may be raised to 2.
SHOPIFY_ORDERS = pool("shopify_orders")  # live ingest reads
SHOPIFY_FULFIL = pool("shopify_fulfil")  # fulfilments, tracking
SHOPIFY_STOCK = pool("shopify_stock")  # inventory pushes
SHOPIFY_FINANCE = pool("shopify_finance")  # the money read
SHOPIFY_CATALOGUE = pool("shopify_catalogue")  # variants
# Backfills' Shopify reads (defs/backfill_pool.py): a pool of their own, so a long backfill never
# holds the slot live ingest waits for. Bulk reads spend no bucket; a paginated backfill shares
# the bucket, which the client paces by Shopify's throttle status.
SHOPIFY_BACKFILL = pool("shopify_backfill")
LEDGER = pool("duckdb")
# Every pool this location's steps use (`pools_unstranded.py` watches their queues).
POOLS = (
    PEOPLEVOX_ORDERS, PEOPLEVOX_STOCK, PEOPLEVOX_DESPATCHES, PEOPLEVOX_FINANCE, PEOPLEVOX_CATALOGUE,
    SHOPIFY_ORDERS, SHOPIFY_FULFIL, SHOPIFY_STOCK, SHOPIFY_FINANCE, SHOPIFY_CATALOGUE, SHOPIFY_BACKFILL,
    LEDGER,
)  # fmt: skip

# Run slots: a brand gets 10 runs at once (dagster.yaml, per code location); every job but the
# orders release and status runs carries this tag, which dagster.yaml limits to 8 per brand. Runs
# that may wait for a pool (ingest, despatches, stock and catalogue each queue behind their own
# flow's previous step, `shopify_orders`, `shopify_fulfil`, ...) can then never take the last two
# slots, and getting orders into the warehouse never queues behind them.
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
