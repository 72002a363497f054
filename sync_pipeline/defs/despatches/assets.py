from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.backfill_pool import is_backfill
from sync_pipeline.defs.despatches.metadata import fulfil_metadata, read_metadata
from sync_pipeline.defs.despatches.partitions import despatch_date_partitions
from sync_pipeline.defs.pool_waiters import others_waiting
from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
    ShopifyResource,
)
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches
from sync_pipeline.lib.flows.despatches.read import INBOX_CURSOR, hinted_packages, read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.inbox import Inbox

OWNERS = ["team:integration"]


@dg.asset(
    key=brand.key("peoplevox", "despatches"),
    group_name="despatches",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "despatches"},
    partitions_def=despatch_date_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=brand.PEOPLEVOX_DESPATCHES,
    retry_policy=brand.RETRY,
)
def peoplevox_despatches(
    context: dg.AssetExecutionContext,
    peoplevox: PeoplevoxResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Packages Peoplevox despatched, one ledger row per package (`DES00042`, `DES00042-1`…).

    Normal runs (launched by the `peoplevox_despatch_events` sensor on a Despatched or
    TrackingNumberReceived callback, or its 5-minute poll) read the Despatch summary report since
    the last despatch seen, and re-read the packages still waiting for a tracking number. Callbacks
    only say *when* to look: what is recorded is what the report says. A **backfill** of a date
    range re-reads the despatches of those days; packages already in the ledger are not duplicated.
    """
    rules = business_rules.load()
    book = ledger.get_ledger()
    inbox = Inbox(ledger.data_path / "inbox")
    backfill = is_backfill(context)
    window = None
    hinted: list[str] = []
    last_item = None
    if backfill:
        start, end = context.partition_time_window
        window = (start.astimezone(UTC), end.astimezone(UTC))
    else:
        hinted, last_item = hinted_packages(inbox, book)
    report = read_despatches(
        PeoplevoxDespatches(peoplevox.get_client()),
        book,
        actor=f"run:{context.run.run_id[:8]}",
        now=datetime.now(UTC),
        initial_lookback=timedelta(days=rules.despatches.initial_lookback_days),
        window=window,
        hinted=hinted,
    )
    if last_item:
        book.set_cursor(INBOX_CURSOR, last_item)
    return dg.MaterializeResult(metadata=read_metadata(report, backfill))


@dg.asset(
    key=brand.key("shopify", "fulfilments"),
    deps=[peoplevox_despatches],
    group_name="despatches",
    kinds={"shopify", "duckdb"},
    owners=OWNERS,
    tags={"domain": "despatches"},
    partitions_def=despatch_date_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=brand.SHOPIFY_FULFIL,
    retry_policy=brand.RETRY,
)
def shopify_fulfilments(
    context: dg.AssetExecutionContext,
    shopify: ShopifyResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Each despatched package as one Shopify fulfilment, with its tracking number, exactly once.

    Every run first settles fulfilments whose outcome was lost (reading the order's fulfilments in
    Shopify, never sending blindly), then fulfils every open package, whatever day it shipped:
    the warehouse's item codes go back to the Shopify lines they came from (SKU overrides and
    bundles reversed; a bundle is fulfilled when its last part ships), spread over the order's
    fulfilment orders without exceeding what remains, from the warehouse's Shopify location (lines
    Shopify put at a store are moved there first). Shopify emails the customer once per package.
    What cannot go gets an exception with an owner: a held or closed fulfilment order or a
    cancelled order shipped anyway (CX, finance), units nobody ordered (warehouse ops). Tracking
    numbers that arrive late are added to the fulfilment without a second email. A step holds the
    `shopify_fulfil` pool for `fulfil_max_seconds` (despatches.yaml), then hands it over as soon as
    the next despatches run's fulfil step waits for it, so that run, and the Peoplevox read of the
    run after it, go next (with nobody waiting it goes on, a minute at a time or a budget if longer, for at most five
    of those from its start, 5 minutes at the 20 s default: `budget_extended`);
    `caught_up` False means the next run was started for the rest.
    """
    rules = business_rules.load()
    book = ledger.get_ledger()
    report = fulfil(
        ShopifyStorefront(shopify.get_client()),
        book,
        rules,
        actor=f"run:{context.run.run_id[:8]}",
        settle_seconds=rules.despatches.unknown_outcome_settle_seconds,
        # Past its budget the step goes on only while no other fulfil step waits for its pool.
        others_waiting=others_waiting(context.instance, brand.SHOPIFY_FULFIL, context.run.run_id),
    )
    return dg.MaterializeResult(metadata=fulfil_metadata(report, book, report.caught_up))
