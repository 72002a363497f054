from datetime import date, timedelta
from decimal import Decimal

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.finance.assets import daily_summary, order_reconciliation
from sync_pipeline.defs.finance.scope import run_days
from sync_pipeline.defs.markdown import rows_table
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.reconcile import exports_root
from sync_pipeline.lib.ledger import finance_exports
from sync_pipeline.lib.ledger import finance_orders as ledger_finance

GAP_HEADER = (
    "| placed | order | status | currency | total | total (shop) | paid | to despatch | despatched | returned "
    "| refunded to return |\n|---|---|---|---|---:|---:|---|---:|---:|---:|---:|"
)
GAP_KEYS = ("order_date", "order_name", "status", "currency", "total_price", "total_price_shop", "paid_at",
            "units_to_despatch", "units_despatched", "units_returned", "units_refunded_for_return")  # fmt: skip


def _days(context, business_rules: BusinessRulesResource) -> list[date]:
    start, end = run_days(context.run.tags, business_rules.load().finance.refresh_days)
    return finance_exports.days_between(start, end)


def _orders(ledger: LedgerResource, days: list[date], statuses: tuple[str, ...]) -> list[dict]:
    return finance_exports.read_orders(exports_root(ledger.data_path), days, statuses, limit=50)


def _table(rows: list[dict]) -> dg.MetadataValue:
    return rows_table([tuple("—" if r[k] is None else r[k] for k in GAP_KEYS) for r in rows], GAP_HEADER)


@dg.asset_check(asset=daily_summary, name="reconciliation_ties_out", pool=brand.LEDGER)
def reconciliation_ties_out(
    context, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Each day's summary file ties out to Shopify to the smallest unit (penny, fils): the orders
    and values in all the statuses add up to the day's orders and revenue, and those are Shopify's
    own totals for the orders placed that day, in both currencies, refunds included. A day Shopify
    has orders for and no summary file fails too."""
    days = _days(context, business_rules)
    summaries = finance_exports.read_daily_summaries(exports_root(ledger.data_path), days, rules.STATUSES)
    with ledger.get_ledger().transaction() as con:
        totals = ledger_finance.shopify_totals(con, days[0], days[-1] + timedelta(days=1))
    shopify = {(t.order_date, t.currency): t for t in totals}
    problems = []
    for row in summaries:
        key = (row["order_date"], row["currency"])
        in_statuses = (
            sum(row[f"{s}_orders"] for s in rules.STATUSES),
            sum((row[f"{s}_value"] for s in rules.STATUSES), Decimal(0)),
            sum((row[f"{s}_value_shop"] for s in rules.STATUSES), Decimal(0)),
        )
        truth = shopify.pop(key, None)
        expected = (truth.orders, truth.p_total_price, truth.total_price, truth.p_refunded) if truth else None
        found = (row["orders"], row["revenue"], row["revenue_shop"], row["refunds"])
        if in_statuses != found[:3] or found != expected:
            problems.append((*key, *found, *in_statuses[:2], *(expected or ("—",) * 4)))
    for (day, currency), truth in shopify.items():  # Shopify has orders the files do not
        problems.append((day, currency, "no file", "—", "—", "—", "—", "—", truth.orders, truth.p_total_price,
                         truth.total_price, truth.p_refunded))  # fmt: skip
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(problems)} day and currency pair(s) of {len(summaries)} do not tie out to Shopify",
        metadata={
            "days_checked": len(days),
            "summaries_read": len(summaries),
            "not_tying_out": rows_table(
                problems,
                "| day | currency | orders | revenue | revenue (shop) | refunds | orders in statuses | value in "
                "statuses | Shopify orders | Shopify revenue | Shopify revenue (shop) | Shopify refunds |\n"
                "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            ),
        },
    )


@dg.asset_check(asset=order_reconciliation, name="paid_not_despatched_within_sla")
def paid_not_despatched_within_sla(
    context, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Every paid order is despatched within the SLA (`finance.yaml: despatch_sla_hours`). Warns
    about any that is not (or was cancelled without its money back); fails (ERROR) when their value
    in the shop's currency is above `paid_not_despatched_error_value`."""
    finance = business_rules.load().finance
    days = _days(context, business_rules)
    totals = finance_exports.status_totals(exports_root(ledger.data_path), days, (rules.PAID_NOT_DESPATCHED,))
    count, value = totals.get(rules.PAID_NOT_DESPATCHED, (0, Decimal("0.00")))
    over = value > finance.paid_not_despatched_error_value
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.ERROR if over else dg.AssetCheckSeverity.WARN,
        description=f"{count} paid order(s) worth {value} (shop currency) not despatched within "
        f"{finance.despatch_sla_hours} h; ERROR above {finance.paid_not_despatched_error_value}",
        metadata={
            "orders": count,
            "value_shop_currency": float(value),
            "error_above": float(finance.paid_not_despatched_error_value),
            "largest": _table(_orders(ledger, days, (rules.PAID_NOT_DESPATCHED,))),
        },
    )


@dg.asset_check(asset=order_reconciliation, name="cancelled_orders_not_despatched")
def cancelled_orders_not_despatched(
    context, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """No order cancelled in Shopify left the warehouse (and stayed out: a parcel that came back is
    fine). Each one is goods the customer may have without paying."""
    days = _days(context, business_rules)
    wanted = (rules.CANCELLED_BUT_DESPATCHED,)
    count, _ = finance_exports.status_totals(exports_root(ledger.data_path), days, wanted).get(
        wanted[0], (0, 0)
    )
    found = _orders(ledger, days, wanted)  # the largest 50, for the table
    return dg.AssetCheckResult(
        passed=count == 0,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{count} cancelled order(s) despatched and not returned",
        metadata={"orders": count, "orders_table": _table(found)},
    )


@dg.asset_check(asset=order_reconciliation, name="refunds_match_returns")
def refunds_match_returns(
    context, ledger: LedgerResource, business_rules: BusinessRulesResource
) -> dg.AssetCheckResult:
    """Refunds and returns agree: no refund (to be returned) waits for goods the warehouse never
    received, no return the warehouse processed waits for its refund, and nothing came back that
    the order never had (an item no line of it is made of: `quantity_mismatch`, listed apart)."""
    days = _days(context, business_rules)
    wanted = (rules.REFUNDED_NOT_RETURNED, rules.RETURNED_NOT_REFUNDED)
    totals = finance_exports.status_totals(exports_root(ledger.data_path), days, wanted)
    found = _orders(ledger, days, wanted)
    stray = finance_exports.read_orders(exports_root(ledger.data_path), days, returned_unmatched=True)
    refunded, returned = (totals.get(s, (0, 0))[0] for s in wanted)
    return dg.AssetCheckResult(
        passed=not totals and not stray,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{refunded} refunded and not returned, {returned} returned and not refunded, "
        f"{len(stray)} with items returned that the order never had",
        metadata={
            "refunded_not_returned": refunded,
            "returned_not_refunded": returned,
            "returned_not_on_the_order": len(stray),
            "orders": _table(found),
            "orders_with_items_returned_not_on_the_order": rows_table(
                [(r["order_date"], r["order_name"], r["status"], r["units_returned_unmatched"],
                  r["units_returned"], r["units_despatched"]) for r in stray[:50]],
                "| placed | order | status | items returned not on the order | returned | despatched |\n"
                "|---|---|---|---:|---:|---:|",
            ),
        },
    )  # fmt: skip
