"""The despatch read's overlap (report dates are whole minutes, a despatch may be committed a little
after its timestamp): every run re-read the last three minutes of the Despatch summary, a request per
page, so at a peak each run paid for thousands of rows it had already read (the rehearsal's biggest
Peoplevox reader, issue 13). A run now asks Peoplevox how many rows the overlap holds (one request)
and reads it again only when that is not what the last read saw.

Both sandboxes over real HTTP and a real ledger file; pages of 2 rows stand for pages of 1,000.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.lib.flows.despatches import peoplevox_port as port
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches, packages
from sync_pipeline.lib.flows.despatches.ports import DespatchRead
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.peoplevox import clauses
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, into_warehouse
from sync_pipeline_tests.orders.conftest import Stack

REPORT_READS = "GetReportData Despatch summary"


def _despatched_minute_by_minute(stack: Stack, per_minute: list[int]) -> list[str]:
    """Orders of one CAP-NVY each, despatched `per_minute[i]` in the warehouse's minute i (one report
    row each); returns their package numbers in despatch order."""
    ids = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY")], shipping_address=UK))["id"]
        for _ in range(sum(per_minute))
    ]
    numbers = into_warehouse(stack)
    packages, queue = [], iter(ids)
    for count in per_minute:
        for _ in range(count):
            packages.append(
                stack.pvx.despatch(numbers[next(queue)], [{"CAP-NVY": 1}])["packages"][0]["number"]
            )
        stack.pvx.advance(60)
    return packages


def _report_reads(stack: Stack) -> int:
    return stack.pvx.state().counters.requests_by_name.get(REPORT_READS, 0)


def _read(stack: Stack, source: PeoplevoxDespatches) -> int:
    """One normal read; the Despatch summary requests it made."""
    before = _report_reads(stack)
    read_despatches(source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    return _report_reads(stack) - before


def _known(stack: Stack, packages: list[str]) -> set[str]:
    with stack.ledger.transaction() as con:
        return set(ledger_despatches.get_many(con, packages))


def test_a_run_reads_the_overlap_again_only_when_peoplevox_counts_other_rows_there(stack: Stack) -> None:
    source = PeoplevoxDespatches(stack.warehouse.client, rows_per_page=2)
    packages = _despatched_minute_by_minute(stack, [6, 1])
    assert _read(stack, source) == 4  # 7 rows from the lookback: 4 pages
    assert _known(stack, packages) == set(packages)
    packages += _despatched_minute_by_minute(stack, [1])
    # The overlap (the 6 rows before the cursor's minute) is as the last read saw it: one request
    # counts it, one page reads from the cursor's minute (its row and the new one). Re-reading the
    # overlap was 4 pages (8 rows).
    assert _read(stack, source) == 2
    assert _known(stack, packages) == set(packages)
    assert _read(stack, source) == 2  # nothing new: the count, and the cursor's minute


class CommittedLate(PeoplevoxDespatches):
    """Peoplevox before `late` was committed: its row is not in the report yet, though its despatch
    date is (the case the overlap exists for). The sandbox commits a despatch with its date, so the
    late commit is played here by leaving the row out until `commit()`."""

    def __init__(self, stack: Stack, late: str) -> None:
        super().__init__(stack.warehouse.client, rows_per_page=2)
        self.late: str | None = late
        self.minute: datetime | None = None

    def commit(self) -> None:
        self.late = None

    def packages_between(self, since: datetime, until: datetime | None = None) -> DespatchRead:
        read = super().packages_between(since, until)
        hidden = [p for p in read.packages if p.package_number == self.late]
        if not hidden:
            return read
        self.minute = hidden[0].despatched_at.replace(second=0, microsecond=0)
        rows = dict(read.rows_by_minute)
        rows[self.minute] -= 1  # one item: one row
        return replace(read, packages=[p for p in read.packages if p not in hidden], rows_by_minute=rows)

    def rows_between(self, since: datetime, until: datetime) -> int:
        counted = super().rows_between(since, until)
        hidden = self.late is not None and self.minute is not None and since <= self.minute < until
        return counted - 1 if hidden else counted


def test_a_package_committed_late_into_the_overlap_is_still_read(stack: Stack) -> None:
    packages = _despatched_minute_by_minute(stack, [3, 1])
    source = CommittedLate(stack, late=packages[0])
    _read(stack, source)
    assert _known(stack, packages) == set(packages[1:])
    source.commit()  # now in the report, dated in the minute the cursor has passed
    packages += _despatched_minute_by_minute(stack, [1])
    assert _read(stack, source) == 1 + 3  # the count differs: the overlap is read again (5 rows + 1)
    assert _known(stack, packages) == set(packages)


class CommittedBetweenPages(PeoplevoxDespatches):
    """Peoplevox where `late` is committed (dated in a minute already paged past) between the read's
    first and second pages: every later row moves on by one, so the row at the boundary comes again
    on page 2 and `late` is on no page. Played over the real report's rows: page 1 as they were
    before the commit, the rest as they are after it."""

    def __init__(self, stack: Stack, late: str) -> None:
        super().__init__(stack.warehouse.client, rows_per_page=2)
        self.late: str | None = late

    def packages_between(self, since: datetime, until: datetime | None = None) -> DespatchRead:
        clause = clauses.compare(port.DATE, ">=", since)
        if until is not None:
            clause = clauses.and_(clause, clauses.compare(port.DATE, "<", until))
        after = list(
            self.client.iter_report_data(
                port.REPORT, clause, order_by=f"{port.DATE} asc", items_per_page=self.rows_per_page
            )
        )
        if self.late is None:
            return packages(after)
        before = [r for r in after if r[port.NUMBER] != self.late]
        self.late = None  # committed now: later reads see it
        return packages(before[: self.rows_per_page] + after[self.rows_per_page :])


def test_a_row_repeated_at_a_page_boundary_does_not_hide_a_row_the_same_read_skipped(stack: Stack) -> None:
    """A late commit while the read pages repeats one row and skips another; counting the repeated
    row twice made the overlap's count match Peoplevox's, so it was never read again: a package lost."""
    packages_ = _despatched_minute_by_minute(stack, [3, 1])
    source = CommittedBetweenPages(stack, late=packages_[1])
    _read(stack, source)
    assert _known(stack, packages_) == {packages_[0], packages_[2], packages_[3]}  # skipped by paging
    packages_ += _despatched_minute_by_minute(stack, [1])
    _read(stack, source)
    assert _known(stack, packages_) == set(packages_)


@pytest.mark.xfail(
    strict=True,
    reason="packages() adds up the units of every row of a package, so the repeated row doubles its "
    "line; dropping identical rows would be wrong if Peoplevox gives two alike rows for two lines of one "
    "item (the reference only infers one row per line) and needs a decision (hold the package? read it "
    "again by number?), not a quick fix. Older than session 11: a later read replaces the lines only while the package is unsent.",
)
def test_a_row_repeated_at_a_page_boundary_is_one_line_of_its_package(stack: Stack) -> None:
    """The report has one row per item per package: the boundary row read twice is the same line,
    not twice the units (a fulfilment of two caps for an order of one)."""
    packages_ = _despatched_minute_by_minute(stack, [3, 1])
    _read(stack, CommittedBetweenPages(stack, late=packages_[1]))
    with stack.ledger.transaction() as con:
        repeated = ledger_despatches.get_many(con, [packages_[2]])[packages_[2]]
    assert repeated.items == {"CAP-NVY": 1}
