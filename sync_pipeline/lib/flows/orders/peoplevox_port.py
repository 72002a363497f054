"""The orders flow's view of Peoplevox, built on `lib/peoplevox.PeoplevoxClient`.

Lookups OR up to 100 `SalesOrderNumber.Equals(…)` terms per request (a practice seen in
production integrations), so confirming a batch of in-doubt orders costs one or two requests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sync_pipeline.lib.domain.sales_order import SalesOrderHeader, SalesOrderItem
from sync_pipeline.lib.domain.text import unsendable_character
from sync_pipeline.lib.flows.orders.ports import (
    BatchRefusedError,
    RowResult,
    SaveOutcomeUnknownError,
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

LOOKUP_CHUNK = 100


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
