"""Availability from Peoplevox's `Item inventory summary` report (API.md §8: `[Item code]`,
`[Available]`, per `[Site reference]`; one row per item and site, zeros included).

Assumed: the report lists every item type at every site, so an item left out of a full read is a
broken feed rather than an item with no stock (the circuit breaker treats it so). Items named by
callbacks are re-read with `[Item code].Equals(…)` terms, OR-ed `items_per_request` at a time
(bedrock ORs 100 in production).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sync_pipeline.lib.flows.stock.ports import ReadCost
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow
from sync_pipeline.lib.peoplevox import ItemInventorySummaryRow, PeoplevoxClient, clauses

CODE, SITE = "Item code", "Site reference"
ORDER = f"[{CODE}] asc, [{SITE}] asc"  # a stable order, so pages do not shift under a long read
T = TypeVar("T")


def _rows(found: Iterable[ItemInventorySummaryRow]) -> list[SnapshotRow]:
    return [
        SnapshotRow(r.item_code, r.site_reference or "", r.available, r.on_hand, r.allocated)
        for r in found
        if r.site_reference
    ]


class PeoplevoxStock:
    """`StockSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient, items_per_request: int = 100) -> None:
        self.client = client
        self.items_per_request = items_per_request
        self.last_cost = ReadCost()

    def _costed(self, read: Callable[[], T]) -> T:
        """Run `read`, keeping what it cost in `last_cost` (the client counts for its lifetime)."""
        client = self.client
        requests, waited, wire = client.requests_sent, client.pacer.waited, client.wire_seconds
        try:
            return read()
        finally:
            self.last_cost = ReadCost(
                client.requests_sent - requests, client.pacer.waited - waited, client.wire_seconds - wire
            )

    def all_items(self) -> list[SnapshotRow]:
        return self._costed(lambda: _rows(self.client.iter_models(ItemInventorySummaryRow, order_by=ORDER)))

    def can_ask(self, item_code: str) -> bool:
        # A search clause cannot carry a backslash or a character XML forbids (clauses.py).
        return clauses.is_safe_string(item_code)

    def items(self, item_codes: Sequence[str]) -> list[SnapshotRow]:
        return self._costed(lambda: self._named(item_codes))

    def _named(self, item_codes: Sequence[str]) -> list[SnapshotRow]:
        wanted = list(dict.fromkeys(item_codes))
        found: list[SnapshotRow] = []
        for start in range(0, len(wanted), self.items_per_request):
            chunk = wanted[start : start + self.items_per_request]
            clause = clauses.or_(*(clauses.report_column_equals(CODE, code) for code in chunk))
            found.extend(_rows(self.client.iter_models(ItemInventorySummaryRow, clause, order_by=ORDER)))
        return found
