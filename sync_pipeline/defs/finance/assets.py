from datetime import UTC, datetime, timedelta

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.backfill_pool import is_backfill, shopify_reads
from sync_pipeline.defs.finance.metadata import (
    money_metadata,
    reconciliation_metadata,
    returns_metadata,
    summary_metadata,
    yield_metadata,
)
from sync_pipeline.defs.orders.partitions import order_date_partitions
from sync_pipeline.defs.resources import (
    BusinessRulesResource,
    LedgerResource,
    PeoplevoxResource,
)
from sync_pipeline.lib.domain.reconciliation import STATUSES
from sync_pipeline.lib.flows.finance.peoplevox_port import PeoplevoxReturns
from sync_pipeline.lib.flows.finance.read_money import read_money
from sync_pipeline.lib.flows.finance.read_returns import read_returns
from sync_pipeline.lib.flows.finance.reconcile import exports_root, reconcile_days, summarise
from sync_pipeline.lib.flows.finance.shopify_port import ShopifyMoney
from sync_pipeline.lib.ledger import finance_exports

OWNERS = ["team:finance"]
COMMON = {
    "group_name": "finance",
    "owners": OWNERS,
    "tags": {"domain": "finance"},
    "partitions_def": order_date_partitions,
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "retry_policy": brand.RETRY,
}


def _window(context) -> tuple[datetime, datetime]:
    start, end = context.partition_time_window
    return start.astimezone(UTC), end.astimezone(UTC)


def _read_money(context, backfill: bool) -> dict:
    rules = context.resources.business_rules.load()
    # Background work: it leaves part of the shared Shopify bucket to the flows customers wait for.
    client = context.resources.shopify.get_client(reserve_share=rules.finance.money_read_bucket_reserve)
    if not backfill:
        client.yield_for(rules.finance.money_read_max_seconds)
    report = read_money(
        ShopifyMoney(client),
        context.resources.ledger.get_ledger(),
        now=datetime.now(UTC),
        initial_lookback=timedelta(days=rules.finance.initial_lookback_days),
        window=_window(context) if backfill else None,
        max_seconds=None if backfill else rules.finance.money_read_max_seconds,
    )
    return {
        **money_metadata(report, backfill),
        **yield_metadata(client.yielded_seconds),
        **({"shopify_read": client.last_read_mode} if backfill else {}),
    }


_money_reads = shopify_reads("money", _read_money, brand.SHOPIFY_FINANCE)


@dg.graph_asset(
    key=brand.key("shopify", "order_money"),
    kinds={"shopify", "duckdb"},
    **{k: v for k, v in COMMON.items() if k != "retry_policy"},  # retries are the read ops'
)
def shopify_order_money():
    """Each order's money as Shopify states it, in the shop's currency and the customer's.

    Totals, subtotal, discounts, shipping, tax, the current total after refunds, what was received,
    refunded, is outstanding or still capturable; the payments (authorisations, captures, sales,
    refunds), the refunds with their line items and restock type, and the returns. Nothing is
    recomputed: these are Shopify's own figures. Normal runs read every order changed since the last
    one; a **backfill** of a date range re-reads the orders placed on those days, in its own pool
    (`shopify_backfill`), so live Shopify steps never wait for it. A large range (from
    `SHOPIFY_BULK_THRESHOLD` orders) is read with one Shopify bulk operation, off the rate limit live
    traffic uses, and only its orders with refunds in pages; `shopify_read` says which way it went.
    A normal run holds its pool (`shopify_finance`) for at most `money_read_max_seconds`
    (finance.yaml): ingest, fulfilments and stock pushes have pools of their own but spend the same
    Shopify cost bucket, so a read stays short. `caught_up` False means it stopped with orders left,
    and `finance_money_backlog` started the next run to go on from there.
    """
    return _money_reads()


@dg.asset(
    key=brand.key("peoplevox", "returns"),
    kinds={"peoplevox", "duckdb"},
    pool=brand.PEOPLEVOX_FINANCE,
    **COMMON,
)
def peoplevox_returns(
    context, peoplevox: PeoplevoxResource, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.MaterializeResult:
    """Returns the warehouse processed (Peoplevox's Return summary): return code, sales order, item,
    quantity, reason and condition, reusable (back on the shelf) or not.

    Each return is matched to our Shopify order and counted in the order's own line units (bundles
    and SKU overrides reversed), ready to be compared with Shopify's refunds. Normal runs read the
    returns processed since the last one; a **backfill** re-reads every return from the range's
    first day until now (returns come after the order).
    """
    rules = business_rules.load()
    backfill = is_backfill(context)
    report = read_returns(
        PeoplevoxReturns(peoplevox.get_client()),
        ledger.get_ledger(),
        rules,
        now=datetime.now(UTC),
        initial_lookback=timedelta(days=rules.finance.initial_lookback_days),
        since=_window(context)[0] if backfill else None,
    )
    return dg.MaterializeResult(metadata=returns_metadata(report, backfill))


@dg.asset(
    key=brand.key("finance", "order_reconciliation"),
    deps=[shopify_order_money, peoplevox_returns],
    kinds={"duckdb", "csv", "parquet"},
    pool=brand.LEDGER,
    **COMMON,
)
def order_reconciliation(
    context, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.MaterializeResult:
    """One row per order placed on each day, with one status: does what Shopify took match what the
    warehouse shipped and took back?

    Per order: Shopify's amounts (both currencies), captured and refunded, units ordered, cancelled,
    refunded, despatched and returned, the despatched value at the order's own prices, and a status
    (`matched`, `awaiting_despatch`, `paid_not_despatched`, `despatched_not_paid`,
    `cancelled_but_despatched`, `refunded_not_returned`, `returned_not_refunded`, `quantity_mismatch`,
    `fulfilled_not_captured`; docs/finance_flow.md says what each means and what to do). Despatches come
    from the despatches flow's packages. Written to `exports/finance/YYYY-MM-DD/order_reconciliation.csv`
    (Excel-ready) and `.parquet`. Re-run any month by backfilling its days.
    """
    rules = business_rules.load()
    start, end = _window(context)
    report = reconcile_days(
        ledger.get_ledger(),
        exports_root(ledger.data_path),
        start.date(),
        end.date(),
        as_of=datetime.now(UTC),
        rules=rules,
    )
    return dg.MaterializeResult(metadata=reconciliation_metadata(report))


@dg.asset(
    key=brand.key("finance", "daily_summary"),
    deps=[order_reconciliation],
    kinds={"csv"},
    **COMMON,
)
def daily_summary(context, ledger: LedgerResource) -> dg.MaterializeResult:
    """Per day and currency: revenue, refunds, net, received, despatched value, and the orders and
    value in each status, in the customer's and the shop's currency. It ties out: the statuses'
    values add up to Shopify's revenue for the day, to the penny.

    Made from the day files alone (no ledger): `exports/finance/YYYY-MM-DD/daily_summary.csv`, and
    the month rollup `exports/finance/YYYY-MM/` (all the month's orders, its daily and month summary).
    """
    start, end = _window(context)
    root = exports_root(ledger.data_path)
    written = summarise(root, start.date(), end.date())
    days = finance_exports.days_between(start.date(), end.date())
    rows = finance_exports.read_daily_summaries(root, days, STATUSES)
    return dg.MaterializeResult(metadata=summary_metadata(rows, written))
