from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import behind
from sync_pipeline.defs.inventory import handoff
from sync_pipeline.defs.inventory.metadata import push_metadata, snapshot_metadata
from sync_pipeline.defs.inventory.partitions import stock_hour_partitions
from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
    ShopifyResource,
)
from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.push import push
from sync_pipeline.lib.flows.stock.reconcile import snapshot_and_prepare
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.inbox import Inbox

OWNERS = ["team:warehouse-ops"]
# The flows whose Shopify work comes before stock when they fall behind (their `caught_up` metadata).
BACKLOG_KEYS = (brand.key("shopify", "orders"), brand.key("shopify", "fulfilments"))


@dg.asset(
    key=brand.key("peoplevox", "inventory_snapshots"),
    group_name="stock",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "stock"},
    partitions_def=stock_hour_partitions,
    pool=brand.PEOPLEVOX_STOCK,
    retry_policy=brand.RETRY,
)
def peoplevox_inventory_snapshots(
    context: dg.AssetExecutionContext,
    peoplevox: PeoplevoxResource,
    shopify: ShopifyResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Peoplevox's available stock for every item at every site (the Item inventory summary report),
    taken by the hourly full reconcile or on demand; one partition per hour, kept for drift analysis.

    Each snapshot goes through the circuit breaker (`stock_feed_plausible`): if too many items would
    drop to zero, or total stock falls too far, nothing is pushed to Shopify and warehouse ops get a
    `stock_feed_suspect` exception (see the runbook in docs/stock_flow.md).

    While Peoplevox is read (mostly waiting for its rate limiter) the push's other inputs are read
    too (Shopify's locations and recently updated levels, the catalogue), so the push that follows
    starts at once; nothing is written to Shopify here.
    """
    rules = business_rules.load()
    report, prepared = snapshot_and_prepare(
        PeoplevoxStock(peoplevox.get_client(), rules.stock.items_per_request),
        ShopifyStock(shopify.get_client()),
        ledger.get_ledger(),
        rules,
        datetime.now(UTC),
        run_id=context.run.run_id,
        partition_key=context.partition_key,
    )
    if prepared is not None:
        handoff.leave(context.run.run_id, prepared)
    return dg.MaterializeResult(metadata=snapshot_metadata(report))


@dg.asset(
    key=brand.key("peoplevox", "availability_changes"),
    group_name="stock",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "stock"},
    pool=brand.PEOPLEVOX_STOCK,
    retry_policy=brand.RETRY,
)
def peoplevox_availability_changes(
    context: dg.AssetExecutionContext,
    peoplevox: PeoplevoxResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """The items Peoplevox's AvailabilityChanges callbacks named, re-read at every site.

    A callback only says "this item changed" (it names no site, and its figure is not trusted):
    each run re-reads the named items, fastest sellers first (all of them: whether a slow seller's
    push waits is decided by the push, which sees Shopify's budget). Goods-in, returns put back on the shelf, stock counts and allocations all
    arrive this way.
    """
    rules = business_rules.load()
    report = take_queued(
        PeoplevoxStock(peoplevox.get_client(), rules.stock.items_per_request),
        ledger.get_ledger(),
        rules,
        datetime.now(UTC),
        run_id=context.run.run_id,
        inbox=Inbox(ledger.data_path / "inbox"),
    )
    return dg.MaterializeResult(metadata=snapshot_metadata(report))


def _backlogged(context: dg.AssetExecutionContext) -> list[str]:
    """Flows whose last run stopped with Shopify work left (their own `caught_up` metadata)."""
    return behind(context.instance, BACKLOG_KEYS)


@dg.asset(
    key=brand.key("shopify", "inventory_levels"),
    deps=[peoplevox_inventory_snapshots, peoplevox_availability_changes],
    group_name="stock",
    kinds={"shopify", "duckdb"},
    owners=OWNERS,
    tags={"domain": "stock"},
    pool=brand.SHOPIFY_STOCK,
    retry_policy=brand.RETRY,
)
def shopify_inventory_levels(
    context: dg.AssetExecutionContext,
    shopify: ShopifyResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Shopify `available` for every SKU at every mapped location: Peoplevox available − units on
    orders the warehouse has not allocated yet − buffer, never below 0.

    Pushes only what differs, fastest sellers first, with compare-and-set (a figure Shopify moved
    meanwhile is re-read, never overwritten) and an idempotency key per request. Bundles configured
    in bundles.yaml show complete sets only. While orders or fulfilments are backlogged the run
    spends at most `backlogged_bucket_share` of Shopify's rate limit and leaves the rest for the next,
    and in peak mode slow sellers' raises wait while the bucket has no room (they go when it has);
    an incremental run stops sending after `max_push_seconds` (the next stock run waits for its pool).
    Nothing is pushed while a `stock_feed_suspect` exception is open.
    """
    rules = business_rules.load()
    backlogged = _backlogged(context)
    report = push(
        ShopifyStock(shopify.get_client()),
        ledger.get_ledger(),
        rules,
        datetime.now(UTC),
        run_id=context.run.run_id,
        bucket_share=rules.stock.backlogged_bucket_share if backlogged else None,
        max_seconds=rules.stock.max_push_seconds,
        prepared=handoff.take(context.run.run_id),
    )
    return dg.MaterializeResult(
        metadata={**push_metadata(report), "backlogged_flows": ", ".join(backlogged) or "(none)"}
    )
