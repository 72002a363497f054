"""Availability from Peoplevox's `Item inventory summary` report (API.md §8: `[Item code]`,
`[Available]`, per `[Site reference]`; one row per item and site, zeros included).

Assumed: the report lists every item type at every site, so an item left out of a full read is a
broken feed rather than an item with no stock (the circuit breaker treats it so). Items named by
callbacks are re-read with `[Item code].Equals(…)` terms, OR-ed `items_per_request` at a time
(bedrock ORs 100 in production; the reference knows no larger clause that works).

Fewer requests for many items: a named request carries at most `items_per_request` codes, so
100 codes at two sites fill a fifth of a page (1,000 rows, API.md §3). When the whole report takes
fewer pages than the named items take requests (a small catalogue, or a busy minute naming most
of it), `items` pages through the whole report instead and keeps the rows of the items asked:
documented calls only, no longer clause. The whole report's size is taken from the figures the
ledger accepted; its first page tells the real one, and a report grown past the named reads' cost
(a catalogue imported since the last full read) is left there for the named reads. A whole read that misses an asked item (an item type
added meanwhile shifts the later pages by a row) re-reads the missing ones by name, so a page
shift never reads as an item gone to zero.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from sync_pipeline.lib.flows.stock.ports import ReadCost
from sync_pipeline.lib.ledger.stock_snapshots import SnapshotRow
from sync_pipeline.lib.peoplevox import ItemInventorySummaryRow, PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.client import MAX_ITEMS_PER_PAGE
from sync_pipeline.lib.peoplevox.errors import ReportChangedDuringRead, ReportLongerThanAsked

CODE, SITE = "Item code", "Site reference"
ORDER = f"[{CODE}] asc, [{SITE}] asc"  # a stable order, so pages do not shift under a long read
T = TypeVar("T")
log = logging.getLogger(__name__)


def _rows(found: Iterable[ItemInventorySummaryRow]) -> list[SnapshotRow]:
    return [
        SnapshotRow(r.item_code, r.site_reference or "", r.available, r.on_hand, r.allocated)
        for r in found
        if r.site_reference
    ]


class PeoplevoxStock:
    """`StockSource` over the Peoplevox Integration Service."""

    def __init__(
        self, client: PeoplevoxClient, items_per_request: int = 100, rows_per_page: int = MAX_ITEMS_PER_PAGE
    ) -> None:
        self.client = client
        self.rows_per_page = rows_per_page
        self.items_per_request = items_per_request
        self.last_cost = ReadCost()

    def _costed(self, read: Callable[[], T], whole_report: bool = False) -> T:
        """Run `read`, keeping what it cost in `last_cost` (the client counts for its lifetime)."""
        client = self.client
        requests, waited, wire = client.requests_sent, client.pacer.waited, client.wire_seconds
        try:
            return read()
        finally:
            self.last_cost = ReadCost(
                client.requests_sent - requests,
                client.pacer.waited - waited,
                client.wire_seconds - wire,
                whole_report,
            )

    def all_items(self) -> list[SnapshotRow]:
        return self._costed(self._whole, whole_report=True)

    def _whole(self, max_pages: int | None = None) -> list[SnapshotRow]:
        """Every row of the report. An item type deleted while it is paged moves the later rows back
        a page boundary, and a full read would zero the items it skipped: read again, once (a
        second change in the same seconds fails the run, which the next one repeats)."""
        try:
            return self._read_whole(max_pages)
        except ReportChangedDuringRead as changed:
            log.warning("peoplevox stock: %s", changed)
            return self._read_whole(max_pages)

    def _read_whole(self, max_pages: int | None) -> list[SnapshotRow]:
        return _rows(
            self.client.iter_models(
                ItemInventorySummaryRow,
                order_by=ORDER,
                items_per_page=self.rows_per_page,
                max_pages=max_pages,
            )
        )

    def can_ask(self, item_code: str) -> bool:
        # A search clause cannot carry a backslash or a character XML forbids (clauses.py).
        return clauses.is_safe_string(item_code)

    def whole_report_is_cheaper(self, items: int, report_rows: int) -> bool:
        """Whether paging through the whole report (`report_rows` rows, as last seen) takes fewer
        requests than naming `items` items."""
        if report_rows <= 0:
            return False  # size unknown (no full read yet): name them
        return math.ceil(report_rows / self.rows_per_page) < math.ceil(items / self.items_per_request)

    def items(self, item_codes: Sequence[str], report_rows: int = 0) -> list[SnapshotRow]:
        wanted = list(dict.fromkeys(item_codes))
        if self.whole_report_is_cheaper(len(wanted), report_rows):
            return self._costed(lambda: self._from_whole(wanted), whole_report=True)
        return self._costed(lambda: self._named(wanted))

    def _from_whole(self, wanted: list[str]) -> list[SnapshotRow]:
        asked = set(wanted)
        # The size came from the figures accepted, not from Peoplevox: a catalogue imported since
        # the last full read makes the report longer. Its first page says how long; if naming
        # the items is cheaper after all, name them (one page spent to learn it).
        try:
            everything = self._whole(max_pages=math.ceil(len(wanted) / self.items_per_request) - 1)
        except ReportLongerThanAsked:
            return self._named(wanted)
        if not everything:
            # No rows and a total of 0, while the last full read found `report_rows` (the only
            # way here): a maintenance window's empty answer, not a catalogue that emptied. Taken
            # as it came, it left every asked item without a figure; ask them by name instead.
            log.warning(
                "peoplevox stock: the whole report came back empty; reading %d items by name", len(wanted)
            )
            return self._named(wanted)
        sites = {r.site for r in everything}
        # One row per item and site; a page shift may repeat a row (the later reading wins) or skip
        # one: an asked item short of a site (every item is listed at every site) is asked by name.
        rows = {(r.item_code, r.site): r for r in everything if r.item_code in asked}
        sites_seen: dict[str, int] = {}
        for code, _site in rows:
            sites_seen[code] = sites_seen.get(code, 0) + 1
        missing = [code for code in wanted if sites_seen.get(code, 0) < len(sites)]
        again = set(missing)
        found = [r for r in rows.values() if r.item_code not in again]
        if missing:
            found.extend(self._named(missing))
        return found

    def _named(self, item_codes: Sequence[str]) -> list[SnapshotRow]:
        wanted = list(dict.fromkeys(item_codes))
        found: list[SnapshotRow] = []
        for start in range(0, len(wanted), self.items_per_request):
            chunk = wanted[start : start + self.items_per_request]
            clause = clauses.or_(*(clauses.report_column_equals(CODE, code) for code in chunk))
            found.extend(_rows(self.client.iter_models(ItemInventorySummaryRow, clause, order_by=ORDER)))
        return found
