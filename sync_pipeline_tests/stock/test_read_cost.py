"""An incremental read takes the cheaper of two documented ways to re-read many items: naming them
(at most `items_per_request` codes a request) or paging through the whole report and keeping the
items asked. Over real HTTP against the Peoplevox sandbox, counting the requests it answered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.flows.stock.peoplevox_port import PeoplevoxStock
from sync_pipeline.lib.flows.stock.snapshot import take_queued
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline_tests.stock.world import CODES, SITE, WHOLESALE, World, stock_world


def _queue(w: World, *codes: str) -> None:
    with w.ledger.transaction() as con:
        stock_snapshots.hint(con, dict.fromkeys(codes, 1), datetime.now(UTC))


def _report_reads(w: World) -> int:
    return w.pvx.state().counters.requests.get("GetReportData", 0)


def _accepted(w: World) -> dict[tuple[str, str], int]:
    with w.ledger.transaction() as con:
        return stock_snapshots.accepted_figures(con, CODES)


def test_many_items_are_read_from_one_page_of_the_whole_report_rather_than_by_name(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        # Two codes a named request: the six items would take three requests; the whole report
        # (six items at two sites, twelve rows) is one page.
        w.source = PeoplevoxStock(w.pvx_client, items_per_request=2)
        w.pvx.set_stock([(code, SITE, 7 + i) for i, code in enumerate(CODES)])
        _queue(w, *CODES)
        before = _report_reads(w)
        report = take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="read-cost")
        assert _report_reads(w) - before == 1
        assert report.cost.whole_report and report.cost.requests == 1
        assert report.verdict == stock_snapshots.ACCEPTED and report.items_asked == len(CODES)
        assert report.rows_read == 2 * len(CODES)  # the items asked, at both sites; nothing else kept
        assert _accepted(w) == {
            **{(code, SITE): 7 + i for i, code in enumerate(CODES)},
            **{(code, WHOLESALE): 100 for code in CODES},
        }


def test_a_few_items_are_still_read_by_name(tmp_path: Path) -> None:
    with stock_world(tmp_path) as w:
        w.full()
        w.source = PeoplevoxStock(w.pvx_client, items_per_request=2)
        w.pvx.set_stock([(CODES[0], SITE, 3)])
        _queue(w, CODES[0])
        before = _report_reads(w)
        report = take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="read-cost")
        assert _report_reads(w) - before == 1 and not report.cost.whole_report
        assert _accepted(w)[(CODES[0], SITE)] == 3


def test_an_item_the_whole_report_lacks_at_a_site_is_asked_for_by_name(tmp_path: Path) -> None:
    """A page shift (an item type added during the read) can skip a row; an asked item short of a
    site is asked again by name, so it never reads as gone. Here the report never lists the code at
    all: the by-name read finds nothing either, and the breaker sees it left out, as before."""
    with stock_world(tmp_path) as w:
        w.full()
        w.source = PeoplevoxStock(w.pvx_client, items_per_request=1)
        _queue(w, *CODES[:3], "NOT-IN-PEOPLEVOX")
        before = _report_reads(w)
        report = take_queued(w.source, w.ledger, w.rules, datetime.now(UTC), run_id="read-cost")
        assert report.cost.whole_report
        assert _report_reads(w) - before == 2  # the whole report's one page, then the missing code by name
        assert report.rows_read == 2 * 3
