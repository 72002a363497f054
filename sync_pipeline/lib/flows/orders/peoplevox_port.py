"""The orders flow's view of Peoplevox, built on `lib/peoplevox.PeoplevoxClient`.

Lookups OR up to 100 `SalesOrderNumber.Equals(…)` terms per request (a practice seen in
production integrations), so confirming a batch of in-doubt orders costs one or two requests.
Statuses are read from the `Sales order summary` report by modification time, up to 1,000
orders a request (`statuses_changed_since`): the limiter counts requests, not rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime

from pydantic import ValidationError

from sync_pipeline.lib.domain.sales_order import SalesOrderHeader, SalesOrderItem
from sync_pipeline.lib.domain.text import unsendable_character
from sync_pipeline.lib.flows.orders.ports import (
    BatchRefusedError,
    RowResult,
    SaveOutcomeUnknownError,
    StatusChanges,
    WarehouseOrder,
)
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow
from sync_pipeline.lib.peoplevox import (
    PeoplevoxAuthError,
    PeoplevoxClient,
    PeoplevoxError,
    PeoplevoxSessionError,
    PeoplevoxUnavailable,
    SaveOutcomeUnknown,
    SaveResult,
    clauses,
)
from sync_pipeline.lib.peoplevox.client import MAX_ITEMS_PER_PAGE
from sync_pipeline.lib.peoplevox.models import SalesOrderSummaryRow

log = logging.getLogger(__name__)
LOOKUP_CHUNK = 100
MODIFIED = "[Last modification time]"


def _results(result: SaveResult, keys: Sequence[str]) -> list[RowResult]:
    return [
        RowResult(key=key, ok=row.ok, message=row.error or "")
        for key, row in zip(keys, result.rows, strict=True)
    ]


class PeoplevoxWarehouse:
    """`Warehouse` and `ItemTypeSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient) -> None:
        self.client = client

    def _save(self, template: str, rows: list[dict[str, str]], keys: Sequence[str]) -> list[RowResult]:
        if not rows:
            return []
        for key, row in zip(keys, rows, strict=True):
            for column, value in row.items():
                bad = unsendable_character(value)
                if bad is not None:
                    # The client would refuse to build the request; say which row and field,
                    # so the caller isolates this row and names it, instead of failing the run.
                    raise BatchRefusedError(
                        f"{key}: {column} contains the character {bad}, which cannot be sent to Peoplevox"
                    )
        try:
            return _results(self.client.save_data(template, rows), keys)
        except SaveOutcomeUnknown as error:
            raise SaveOutcomeUnknownError(str(error)) from error
        except (PeoplevoxAuthError, PeoplevoxSessionError, PeoplevoxUnavailable):
            raise  # not about the rows: the run fails and is retried; nothing was saved
        except PeoplevoxError as error:
            # A fault or a whole-request refusal: nothing saved, and the rows are the cause.
            raise BatchRefusedError(str(error)) from error

    def find_sales_orders(self, numbers: Sequence[str], with_items: bool) -> dict[str, WarehouseOrder]:
        found: dict[str, WarehouseOrder] = {}
        for start in range(0, len(numbers), LOOKUP_CHUNK):
            chunk = list(numbers[start : start + LOOKUP_CHUNK])
            clause = clauses.any_of("SalesOrderNumber", chunk)
            headers = {row["SalesOrderNumber"]: row for row in self.client.iter_data("Sales orders", clause)}
            quantities: dict[str, dict[str, int]] = {n: {} for n in headers}
            if with_items and headers:
                for row in self.client.iter_data(
                    "Sales order items", clauses.any_of("SalesOrderNumber", list(headers))
                ):
                    per_order = quantities.setdefault(row["SalesOrderNumber"], {})
                    per_order[row["ItemCode"]] = per_order.get(row["ItemCode"], 0) + int(
                        row["QuantityOrdered"] or 0
                    )
            for number, header in headers.items():
                found[number] = WarehouseOrder(
                    number, header.get("Status", ""), quantities.get(number, {}), header
                )
        return found

    def statuses_changed_since(
        self, since: datetime, page_size: int = MAX_ITEMS_PER_PAGE
    ) -> StatusChanges | None:
        """Every sales order modified at or after `since` (minute precision), newest first.

        Newest first, so that an order modified while the pages are read moves to the front,
        among the pages already read (its new status is read next time: its modification is newer
        than anything read now), and pushes the rest back by a row (read twice, harmless); oldest
        first would slide an unread order into a page already read, and skip it. The read ends at
        the first page that is not full. None: this tenant has no such report (or not these
        columns), and the caller reads statuses by number.
        """
        statuses: dict[str, str] = {}
        newest: datetime | None = None
        columns = ("Sales order number", "Status", "Last modification time")
        clause = clauses.date_at_least(MODIFIED, since)
        page_no = 0
        while True:
            page_no += 1
            try:
                page = self.client.get_report_data(
                    SalesOrderSummaryRow.TEMPLATE,
                    clause,
                    columns,
                    order_by=f"{MODIFIED} desc",
                    page_no=page_no,
                    items_per_page=page_size,
                )
            except (PeoplevoxAuthError, PeoplevoxSessionError, PeoplevoxUnavailable):
                raise
            except PeoplevoxError as error:
                log.warning(
                    "peoplevox: cannot read statuses from %r (%s)", SalesOrderSummaryRow.TEMPLATE, error
                )
                return None
            for raw in page.rows:
                try:
                    row = SalesOrderSummaryRow.model_validate(raw)
                except ValidationError as error:  # left to the poll, by number
                    log.warning(
                        "peoplevox: unreadable %r row %s: %s", SalesOrderSummaryRow.TEMPLATE, raw, error
                    )
                    continue
                statuses.setdefault(row.sales_order_number, row.status)  # the first read is the newest
                moment = row.last_modification_time
                newest = moment if newest is None else max(newest, moment)
            if len(page.rows) < page_size:
                return StatusChanges(statuses, newest, page_no)

    def existing_item_codes(self, codes: Sequence[str]) -> set[str]:
        # A code the clause builder refuses (a backslash, a character XML cannot carry) cannot
        # be looked up safely: it is left out, so its order is held as unmapped, alone,
        # instead of one bad SKU failing the lookup for every order in the run.
        codes = [code for code in codes if clauses.is_safe_string(code)]
        existing: set[str] = set()
        for start in range(0, len(codes), LOOKUP_CHUNK):
            clause = clauses.any_of("ItemCode", codes[start : start + LOOKUP_CHUNK])
            existing.update(row["ItemCode"] for row in self.client.iter_data("Item types", clause))
        return existing

    def save_headers(self, headers: Sequence[SalesOrderHeader]) -> list[RowResult]:
        return self._save(
            "Sales orders", [h.as_csv_row() for h in headers], [h.SalesOrderNumber for h in headers]
        )

    def save_items(self, items: Sequence[SalesOrderItem]) -> list[RowResult]:
        return self._save(
            "Sales order items", [i.as_csv_row() for i in items], [i.SalesOrderNumber for i in items]
        )

    def cancel(self, numbers: Sequence[str]) -> list[RowResult]:
        rows = [{"SalesOrderNumber": n, "Status": "Cancelled"} for n in numbers]
        return self._save("Sales orders", rows, numbers)

    def update_headers(self, rows: Sequence[dict[str, str]]) -> list[RowResult]:
        # Partial-column updates: group rows by their column set, since one CSV has one header.
        results: list[RowResult] = []
        groups: dict[tuple[str, ...], list[dict[str, str]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        for group in groups.values():
            results += self._save("Sales orders", group, [r["SalesOrderNumber"] for r in group])
        return results

    def iter_item_types(self) -> Iterator[ItemTypeRow]:
        for row in self.client.iter_data("Item types"):
            yield ItemTypeRow(row["ItemCode"], row.get("Barcode") or None, row.get("Name") or None)
