"""Read the warehouse's processed returns (Peoplevox `Return summary`) into the ledger.

Every return code the date window names is read again in full, and each (return code, item code,
condition) figure is replaced by the sum of its current rows (`peoplevox_port.py` says why). Its
sales order is matched to our Shopify order (a return for a sales order we never sent is kept
unmatched and matched when the order turns up). An order's returns are then counted as Shopify line units (`lib/domain/returns.py`).
Normal runs read from the newest return date seen (minus an overlap: report dates have minute
precision); a backfill re-reads from a window's first day until now, because returns come after the
order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.fulfilment import line_needs
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.returns import GradedItem, count_returns, unmatched_items
from sync_pipeline.lib.flows.finance.ports import ReturnedItem, ReturnSource
from sync_pipeline.lib.ledger import Ledger, cursors
from sync_pipeline.lib.ledger import finance_units as units
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.finance_units import ReturnRow
from sync_pipeline.lib.ledger.records import to_naive_utc

CURSOR = "peoplevox_return_date"
# `{order id: {return code: {line item id: units}}}`
LineUnits = dict[str, dict[str, dict[str, int]]]
CURSOR_OVERLAP = timedelta(minutes=3)


@dataclass
class ReturnsReport:
    rows_read: int = 0
    new_rows: int = 0
    units_returned: int = 0
    units_reusable: int = 0
    unmatched: list[str] = field(default_factory=list)  # sales order numbers none of ours
    orders_counted: int = 0
    cursor: str | None = None


def read_returns(
    source: ReturnSource,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    initial_lookback: timedelta,
    since: datetime | None = None,
) -> ReturnsReport:
    """Returns dated since the cursor, or (backfill) since `since`."""
    report = ReturnsReport()
    backfill = since is not None
    if since is None:
        stored = ledger.get_cursor(CURSOR)
        since = datetime.fromisoformat(stored) - CURSOR_OVERLAP if stored else now - initial_lookback
    dated = source.returns_between(since)
    # The window finds the returns; each is then read whole, so its figure is all of its rows.
    items = source.returns_by_code(sorted({i.return_code for i in dated})) if dated else []
    report.rows_read = len(items)
    with ledger.transaction() as con:
        known = ledger_orders.by_sales_order_number(
            con, [i.sales_order_number for i in items] + units.unmatched_return_orders(con)
        )
        order_of = {n: r.shopify_order_id for n, r in known.items()}
        units.attach_return_orders(con, order_of)
        new = units.put_returns(con, [_row(i, order_of.get(i.sales_order_number), rules) for i in items])
        report.new_rows = len(new)
        report.units_returned = sum(r.quantity for r in new)
        report.units_reusable = sum(r.quantity for r in new if r.reusable)
        report.unmatched = units.unmatched_return_orders(con)
        touched = {r.shopify_order_id for r in new if r.shopify_order_id} | set(order_of.values())
        counted, reusable, unmatched = _count_in_line_units(con, sorted(touched), rules)
        report.orders_counted = len(counted)
        units.replace_return_units(con, counted, reusable, unmatched)
        newest = max((i.returned_at for i in dated if i.returned_at), default=None)
        if newest is not None and not backfill:
            stored = cursors.get(con, CURSOR)
            value = max(to_naive_utc(newest).isoformat(), stored or "")  # type: ignore[union-attr]
            cursors.put(con, CURSOR, value)
            report.cursor = value
    return report


def _row(item: ReturnedItem, order_id: str | None, rules: BusinessRules) -> ReturnRow:
    return ReturnRow(
        return_code=item.return_code,
        item_code=item.item_code,
        sales_order_number=item.sales_order_number,
        shopify_order_id=order_id,
        quantity=item.quantity,
        reason=item.reason,
        condition=item.condition,
        reusable=rules.finance.is_reusable(item.condition),
        returned_at=item.returned_at.astimezone(UTC) if item.returned_at else None,
        site=item.site,
    )


def _count_in_line_units(
    con: duckdb.DuckDBPyConnection, order_ids: Iterable[str], rules: BusinessRules
) -> tuple[LineUnits, LineUnits, LineUnits]:
    """`{order id: {return code: {line id: units}}}` for every return of these orders, the same for
    the units graded reusable, and `{order id: {return code: {item code: units}}}` of the items no
    line of the order is made of (`lib/domain/returns.py`)."""
    wanted = list(order_ids)
    orders = ledger_orders.get_many(con, wanted)
    returns = units.returns_of(con, wanted)
    counted: LineUnits = {}
    reusable: LineUnits = {}
    unmatched: LineUnits = {}
    for oid in wanted:
        row = orders.get(oid)
        if row is None or not row.snapshot:
            continue
        # Every line that shipped may come back, refunded since (current quantity 0) or not.
        lines = [
            li.model_copy(update={"quantity": max(1, li.quantity)})
            for li in ShopOrder.model_validate(row.snapshot).lines
        ]
        needs = line_needs(lines, rules.bundles, rules.sku_overrides.overrides)
        items = [GradedItem(r.return_code, r.item_code, r.quantity, r.reusable) for r in returns.get(oid, [])]
        counted[oid], reusable[oid] = count_returns(needs, items)
        unmatched[oid] = unmatched_items(needs, items)
    return counted, reusable, unmatched
