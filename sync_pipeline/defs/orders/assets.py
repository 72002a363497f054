import time
from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.backfill_pool import shopify_reads
from sync_pipeline.defs.orders.metadata import ingest_metadata, release_metadata, status_metadata
from sync_pipeline.defs.orders.partitions import order_date_partitions
from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
    ShopifyResource,
)
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, bodies_waiting, body_metadata, record_bodies
from sync_pipeline.lib.flows.orders.ingest import (
    LIVE_READ_SECONDS,
    OnRecorded,
    ingest,
    ingest_notified,
    summarize,
)
from sync_pipeline.lib.flows.orders.observed import Recorded
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.flows.orders.statuses import StatusReport, read_statuses
from sync_pipeline.lib.flows.stock import hints
from sync_pipeline.lib.flows.stock.peak import follow_peak_mode, peak_metadata
from sync_pipeline.lib.inbox import Inbox

OWNERS = ["team:integration"]
INBOX_RETENTION_SECONDS = 3 * 24 * 3600


def _due_observer(context) -> OnRecorded:
    """Tells the release sensor, as each chunk is committed, when the earliest order this run has
    left awaiting release comes due (an observation of the orders asset): the run's
    materialisation comes only at its end, and an order whose hold ends before then would wait."""
    earliest: datetime | None = None

    def observe(recorded: Recorded) -> None:
        nonlocal earliest
        due = recorded.earliest_due
        if due is None or (earliest is not None and due >= earliest):
            return
        earliest = due
        context.log_event(
            dg.AssetObservation(
                asset_key=brand.key("shopify", "orders"), metadata={"next_release_due_at": due.isoformat()}
            )
        )

    return observe


def _read_orders(context, backfill: bool) -> dict:
    shopify: ShopifyResource = context.resources.shopify
    ledger: LedgerResource = context.resources.ledger
    rules = context.resources.business_rules.load()
    client = shopify.get_client()
    source = ShopifyOrdersSource(client)
    window = None
    if backfill:
        start, end = context.partition_time_window
        window = (start.astimezone(UTC), end.astimezone(UTC))
    inbox = Inbox(ledger.data_path / "inbox")
    inbox.prune("shopify", INBOX_RETENTION_SECONDS)
    actor = f"run:{context.run.run_id[:8]}"
    book = ledger.get_ledger()
    if window:
        report = ingest(source, book, rules, actor=actor, now=datetime.now(UTC), window=window)
        read = {"shopify_read": client.last_read_mode, "read_by_id_from_webhooks": 0}
        return {**ingest_metadata(report, window), **read}
    # One budget for the live read, poll and reads by id together: the step holds `shopify_orders`.
    started = time.monotonic()
    observe = _due_observer(context)
    # Orders whose bodies arrived since the body step listed the inbox: the next run records them.
    waiting = bodies_waiting(inbox, book.get_cursor(BODY_CURSOR))
    report = ingest(
        source, book, rules, actor, datetime.now(UTC), max_seconds=LIVE_READ_SECONDS, on_recorded=observe,
        bodies_waiting=waiting,
    )  # fmt: skip
    left = LIVE_READ_SECONDS - (time.monotonic() - started)
    notified = ingest_notified(
        inbox, source, book, rules, actor, datetime.now(UTC), max_seconds=left, on_recorded=observe,
        until=book.get_cursor(BODY_CURSOR),
    )  # fmt: skip
    if notified.read:
        summarize(book, report)  # what they recorded may be the next order due
    # Webhooks the body step left (its budget, or arrived since): the next run goes on at once.
    bodies_left = inbox.since("shopify", after=book.get_cursor(BODY_CURSOR), limit=1)
    report.caught_up = report.caught_up and notified.caught_up and not bodies_left
    # The orders just recorded make peak mode's rate: a switch queues what it moves for the stock flow.
    peak = follow_peak_mode(book, rules, datetime.now(UTC), actor)
    return {
        **ingest_metadata(report, window),
        "read_by_id_from_webhooks": notified.read,
        **peak_metadata(peak),
    }


def _record_bodies(context) -> dict:
    """The orders the webhooks carry whole, recorded without a Shopify read (no pool slot)."""
    ledger: LedgerResource = context.resources.ledger
    book = ledger.get_ledger()
    report = record_bodies(
        Inbox(ledger.data_path / "inbox"),
        book,
        context.resources.business_rules.load(),
        f"run:{context.run.run_id[:8]}",
        datetime.now(UTC),
        max_seconds=LIVE_READ_SECONDS,
        on_recorded=_due_observer(context),
    )
    return body_metadata(report)


_orders_reads = shopify_reads("orders", _read_orders, brand.SHOPIFY_ORDERS, before_live=_record_bodies)


@dg.graph_asset(
    key=brand.key("shopify", "orders"),
    group_name="orders",
    kinds={"shopify", "duckdb"},
    owners=OWNERS,
    tags={"domain": "orders"},
    partitions_def=order_date_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def shopify_orders():
    """Shopify orders in the ledger, with every change recorded in the audit log.

    Normal runs (launched by the `shopify_order_events` sensor) first record the orders the
    webhooks carry whole (`recorded_from_webhook_bodies`, no Shopify read; bodies of the last
    few seconds are waited for, up to 5 s, so they need no read either), then read every
    order updated since the last run that the ledger does not hold yet, whatever day it was
    placed, and move each one on: awaiting payment, awaiting release (the hold window),
    cancelled. A **backfill** of a date range re-reads the orders placed on those days and
    re-reconciles them; nothing already in the warehouse is sent again.
    A backfill of `SHOPIFY_BULK_THRESHOLD` orders or more is read with one Shopify bulk
    operation, which does not spend the rate limit live ingest needs (`shopify_read` says which).
    Backfills read in their own pool (`shopify_backfill`), so live ingest never waits for one.
    """
    return _orders_reads()


@dg.asset(
    key=brand.key("peoplevox", "sales_orders"),
    deps=[shopify_orders, brand.key("peoplevox", "item_types")],
    group_name="orders",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "orders"},
    pool=brand.PEOPLEVOX_ORDERS,
    retry_policy=brand.RETRY,
)
def peoplevox_sales_orders(
    context,
    shopify: ShopifyResource,
    peoplevox: PeoplevoxResource,
    ledger: LedgerResource,
    business_rules: BusinessRulesResource,
) -> dg.MaterializeResult:
    """Paid orders released to the warehouse as Peoplevox sales orders, exactly once.

    Each run first finishes any injection whose outcome is unknown (looking the order up in
    Peoplevox, never resending blindly), then re-reads every order whose hold window is over,
    translates it (SKU mapping, bundles, routing B2B/DTC, address checks) and saves it to
    Peoplevox in batches. Orders that cannot go are held with an exception owned by warehouse
    ops (unmapped SKU) or CX (address). Shopify edits and cancellations of orders already in the
    warehouse are pushed while Peoplevox has not passed the cut-off status, and raised as
    `change_after_cutoff` exceptions for CX after it.
    """
    rules = business_rules.load()
    report = release(
        ShopifyOrdersSource(shopify.get_client()),
        PeoplevoxWarehouse(peoplevox.get_client(urgent=True)),
        ledger.get_ledger(),
        rules,
        actor=f"run:{context.run.run_id[:8]}",
        now=datetime.now(UTC),
    )
    return dg.MaterializeResult(metadata=release_metadata(report, ledger.get_ledger()))


@dg.asset(
    key=brand.key("peoplevox", "sales_order_statuses"),
    deps=[peoplevox_sales_orders],
    group_name="orders",
    kinds={"peoplevox", "duckdb"},
    owners=OWNERS,
    tags={"domain": "orders"},
    pool=brand.PEOPLEVOX_ORDERS,
    retry_policy=brand.RETRY,
)
def peoplevox_sales_order_statuses(
    context, peoplevox: PeoplevoxResource, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.MaterializeResult:
    """Where each sales order is in the warehouse (New, Allocated, Picking, Packed, Despatched).

    Reads from Peoplevox the status of every sales order it modified since the last run (the
    `Sales order summary` report, up to 1,000 orders a request; a callback only wakes the run),
    then polls by number the open orders no read has seen for 10 minutes. A tenant without that
    report is read as before: each order a callback named, then the open orders least recently
    checked (`status_source` says which). An order the warehouse cancelled on its own is flagged for CX.
    CX reads these statuses in the order trace; the cut-off rule reads them before pushing a change.
    An order Peoplevox has just allocated queues its items for the stock flow
    (`stock_items_hinted`): Shopify no longer needs its units held back.
    """
    book = ledger.get_ledger()
    allocated = hints.for_orders(business_rules.load())
    report = StatusReport()
    actor = f"run:{context.run.run_id[:8]}"
    inbox = Inbox(ledger.data_path / "inbox")
    warehouse = PeoplevoxWarehouse(peoplevox.get_client(urgent=True))
    read_statuses(inbox, warehouse, book, actor, report, datetime.now(UTC), on_allocation=allocated)
    inbox.prune("peoplevox", INBOX_RETENTION_SECONDS)
    return dg.MaterializeResult(metadata=status_metadata(report))
