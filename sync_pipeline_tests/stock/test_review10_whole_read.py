"""Review 10: the incremental read's choice between naming items and paging the whole `Item
inventory summary`, over real HTTP against the Peoplevox sandbox and a real DuckDB ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.peoplevox.client import SaveAction
from sync_pipeline_tests.stock.world import CODES, SITE, WHOLESALE, World, stock_world


def _queue(w: World, *codes: str) -> None:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))


def _accepted(w: World) -> dict[tuple[str, str], int]:
    with w.ledger.transaction() as con:
        return stock_snapshots.accepted_figures(con, CODES)


def _report_reads(w: World) -> int:
    return w.pvx.state().counters.requests.get("GetReportData", 0)


def test_a_catalogue_grown_since_the_last_full_read_is_not_paged_through(tmp_path: Path) -> None:
    """Review 10 (fixed): the report's size was estimated from the figures the ledger accepted
    (`stock_snapshots.figure_count`), not what Peoplevox lists; after a catalogue import every
    incremental run paged through the whole, larger report (22 requests here) where naming the six
    items takes 3, until the next full read. Now the first page's total sends it to the names."""
    with stock_world(tmp_path) as w:
        # Ten rows a page, two codes a request: the 12 accepted figures (6 items, 2 sites) make
        # the whole report look like 2 pages against 3 named requests.
        w.source = PeoplevoxStock(w.pvx_client, items_per_request=2, rows_per_page=10)
        w.full()
        # A range of 100 new item types imported into Peoplevox before the next full read.
        new = [f"NEW-{i:03d}" for i in range(100)]
        w.pvx.seed_items([(c, f"60{i:011d}", c) for i, c in enumerate(new)])
        w.pvx.set_stock([(c, SITE, 1) for c in new])
        w.pvx.set_stock([(code, SITE, 9) for code in CODES])
        _queue(w, *CODES)
        before = _report_reads(w)
        report = take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="review10")
        assert report.verdict == stock_snapshots.ACCEPTED
        assert _report_reads(w) - before == 1 + 3  # one page to learn the size, then the named reads
        assert {(code, site): n for (code, site), n in _accepted(w).items() if site == SITE} == {
            (code, SITE): 9 for code in CODES
        }


def test_an_item_type_deleted_during_a_full_read_does_not_zero_the_items_after_it(tmp_path: Path) -> None:
    """Review 10 (fixed): the full read pages the whole report in item-code order; an item type
    deleted between two pages moved the later rows back over a page boundary, the read skipped an
    item's rows, and the full snapshot zeroed what it left out (`stock_snapshots.apply`):
    HOODIE-GRY-M's 40 went to 0 (2 of 12 figures: under the breaker's min_skus). A whole report
    announcing fewer rows than its first page did is now read again."""
    with stock_world(tmp_path) as w:
        # An old item type, no stock left, first in item-code order; four rows a page.
        w.pvx.seed_items([("AAA-OLD", "59000000001", "Old")])
        w.pvx.set_stock([("AAA-OLD", SITE, 0), ("AAA-OLD", WHOLESALE, 0)])
        w.source = PeoplevoxStock(w.pvx_client, rows_per_page=4)
        w.full()
        assert _accepted(w)[("HOODIE-GRY-M", SITE)] == 40

        original = w.pvx_client.get_report_data
        deleted: list[str] = []

        def page_then_someone_deletes_the_old_item(*args, **kwargs):  # type: ignore[no-untyped-def]
            page = original(*args, **kwargs)
            if not deleted:  # a person deletes the item type in Peoplevox while the read is at page 1
                with PeoplevoxClient(w.peoplevox_url, "sandbox", "integration", "sandbox-password") as person:
                    assert person.save_data("Item types", [{"ItemCode": "AAA-OLD"}], SaveAction.DELETE).ok
                deleted.append("AAA-OLD")
            return page

        w.pvx_client.get_report_data = page_then_someone_deletes_the_old_item  # type: ignore[method-assign]
        w.full()
        assert deleted
        assert _accepted(w)[("HOODIE-GRY-M", SITE)] == 40
        assert _accepted(w)[("HOODIE-GRY-M", WHOLESALE)] == 100


def test_a_whole_report_that_comes_back_empty_is_not_taken_for_the_asked_items(tmp_path: Path) -> None:
    """Review 10 (fixed): when paging the whole report was cheaper, a report that came back with no
    rows and a total of 0 (a maintenance window's empty answer) while the ledger knew its size left
    every asked item without a figure, and the run read nothing it was asked to. Such an answer
    is not believed: the items are asked by name."""
    with stock_world(tmp_path) as w:
        # A hundred rows a page, two codes a request: the 12 rows are 1 page against 3 named requests.
        w.source = PeoplevoxStock(w.pvx_client, items_per_request=2, rows_per_page=100)
        w.full()
        w.pvx.set_stock([(code, SITE, 9) for code in CODES])
        _queue(w, *CODES)
        original = w.pvx_client.get_report_data
        emptied: list[str] = []

        def whole_report_comes_back_empty(*args, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs.get("search_clause", args[1] if len(args) > 1 else ""):
                return original(*args, **kwargs)  # a named read
            w.pvx.set_faults(inventory_feed="empty")
            try:
                page = original(*args, **kwargs)
            finally:
                w.pvx.set_faults(inventory_feed="normal")
            emptied.append("whole")
            return page

        w.pvx_client.get_report_data = whole_report_comes_back_empty  # type: ignore[method-assign]
        take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="review10")
        assert emptied
        assert {(code, site): n for (code, site), n in _accepted(w).items() if site == SITE} == {
            (code, SITE): 9 for code in CODES
        }
