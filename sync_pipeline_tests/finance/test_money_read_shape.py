"""The live money read: its cheap shape reads the same rows as the full one, and its time budget
hands Shopify back between pages without losing or doubling an order. Sandboxes over HTTP, a real
ledger file; the cursor's rules also over a listing stand-in (pages as Shopify could hand them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from sync_pipeline.lib.flows.finance import read_money as read_money_module
from sync_pipeline.lib.flows.finance.ports import OrdersPage
from sync_pipeline.lib.flows.finance.read_money import CURSOR, LISTED_AT, MoneyReport, read_money
from sync_pipeline.lib.flows.finance.shopify_port import finance_set
from sync_pipeline.lib.ledger import Ledger, cursors
from sync_pipeline.lib.ledger import finance_orders as ledger_finance
from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet
from sync_pipeline.lib.shopify.finance import money_search
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ShippingLineSpec
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance import factories
from sync_pipeline_tests.finance.world import CODES, World, world


def _place(w: World, lines: list[LineSpec] | None = None, **spec: object) -> str:
    order = w.shop.place_order(
        OrderSpec(shipping_address=UK, lines=lines or [LineSpec(sku=CODES[0], quantity=3)], **spec)  # type: ignore[arg-type]
    )
    w.ids.append(order["id"])
    return str(order["id"])


def _fulfil(w: World, order_id: str) -> None:
    fos = w.client.get_fulfillment_orders(order_id)
    w.client.create_fulfillment({fo.id: None for fo in fos})


def _orders_with_every_kind_of_refund(w: World) -> None:
    _place(w)  # none
    refund_one_unit(w.client, _place(w), "NO_RESTOCK")  # partial
    refund_one_unit(w.client, _place(w), "CANCEL")  # restocked before despatch
    returned = _place(w)
    _fulfil(w, returned)
    refund_one_unit(w.client, returned, "RETURN")  # restocked after despatch
    shipping = _place(w, shipping_line=ShippingLineSpec(price="4.95"))
    [money] = w.client.get_orders_money([shipping])
    sale = money.transactions[0]
    w.client.create_refund(
        shipping, {}, [(sale.id, Decimal("4.95"), sale.gateway or "manual")], shipping=True
    )
    twice = _place(w)
    refund_one_unit(w.client, twice, "NO_RESTOCK")
    refund_one_unit(w.client, twice, "CANCEL")
    _place(w, financial_status="AUTHORIZED")
    many = [LineSpec(sku=CODES[n % 3], quantity=1) for n in range(12)]  # more lines than a page reads
    _place(w, lines=many)
    refund_one_unit(w.client, _place(w, lines=many), "NO_RESTOCK")


def _sets(orders: list) -> list[FinanceOrderSet]:  # type: ignore[type-arg]
    return sorted((finance_set(o) for o in orders), key=lambda s: s.order.shopify_order_id)


def test_the_cheap_read_writes_the_rows_of_the_full_read_at_under_half_the_points(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        for _ in range(30):  # most orders have no refund
            _place(w, lines=[LineSpec(sku=CODES[1], quantity=1)])
        _orders_with_every_kind_of_refund(w)
        search = money_search("updated_at", datetime.now(UTC) - timedelta(hours=1))
        stats = w.client.stats
        before = stats.points_requested
        full = list(w.client.iter_orders_money(search))
        full_points = stats.points_requested - before
        before = stats.points_requested
        pages = list(w.client.iter_money_pages(search))
        light_points = stats.points_requested - before
        light = [o for page in pages for o in page.orders]
        assert len(full) == len(light) == len(w.ids) == 39
        assert _sets(light) == _sets(full)
        assert sum(len(s.refunds) for s in _sets(light)) == 7  # the twice-refunded order has two
        assert {r.restock_type for s in _sets(light) for r in s.refunds for r in r.lines} >= {
            "NO_RESTOCK", "CANCEL", "RETURN"}  # fmt: skip
        # Requested points (what Shopify takes from the bucket before it answers, and what sizes a
        # page): 117 an order and a by-id read of the 6 refunded, against 377 an order.
        ratio = light_points / full_points
        assert ratio < 0.55, (light_points, full_points)
        assert len(pages) < len(full) / 4  # 8 orders a page against 2


class Budgeted:
    """The Shopify money source, each page taking `pause` (a slow shop), failing after `die_after`
    pages when set (a run that dies mid-read)."""

    def __init__(self, w: World, die_after: int | None = None) -> None:
        self.w, self.die_after, self.pages = w, die_after, 0

    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        return self.w.money.orders_between(field, since, until)

    def pages_changed_since(self, since: datetime) -> Iterator[OrdersPage]:
        for page in self.w.money.pages_changed_since(since):
            if self.die_after is not None and self.pages >= self.die_after:
                raise RuntimeError("the run died")
            self.pages += 1
            yield page

    def orders(self, order_ids: list[str]) -> list[FinanceOrderSet]:
        return self.w.money.orders(order_ids)


def _ledger_sets(w: World) -> list[FinanceOrderSet]:
    today = datetime.now(UTC).date()
    with w.ledger.transaction() as con:
        ids = ledger_finance.order_ids_between(con, today, today + timedelta(days=1))
        counts = con.execute(
            "SELECT (SELECT count(*) FROM finance_orders), (SELECT count(*) FROM finance_refunds), "
            "(SELECT count(*) FROM finance_refund_lines), (SELECT count(*) FROM finance_order_lines)"
        ).fetchone()
    return sorted(ids), counts  # type: ignore[return-value]


def test_a_read_stopped_by_its_budget_or_killed_is_resumed_with_nothing_lost_or_doubled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every order here is seconds old, so each run would read them all again within the index-lag
    # overlap (`test_a_cursor_reached_long_after_resumes_where_it_stopped`): this test is about pages.
    monkeypatch.setattr(read_money_module, "CURSOR_OVERLAP", timedelta(0))
    monkeypatch.setattr(read_money_module, "CHUNK", 2)  # a chunk a page: a run dies after writing some
    with world(tmp_path) as w:
        for n in range(9):
            order = _place(w, lines=[LineSpec(sku=CODES[1], quantity=2)])
            if n in (2, 5):
                refund_one_unit(w.client, order, "CANCEL")
        w.client.max_query_cost = 250  # two orders a page: many pages

        def run(die_after: int | None = None, budget: float | None = 1e-9) -> MoneyReport:
            # A budget spent after every page: each run stops between two pages once it got anywhere.
            source = Budgeted(w, die_after)
            return read_money(source, w.ledger, datetime.now(UTC), timedelta(days=1), max_seconds=budget)

        reports = [run()]
        assert not reports[0].caught_up and reports[0].orders_read == 2
        # A run that dies mid-read, after writing its first page: what it wrote stays, with its cursor.
        with pytest.raises(RuntimeError, match="died"):
            run(die_after=1, budget=None)
        died_at = w.ledger.get_cursor(CURSOR)
        assert died_at is not None and reports[0].cursor is not None and died_at >= reports[0].cursor
        assert len(_ledger_sets(w)[0]) >= 2
        for _ in range(40):
            reports.append(run())
            if reports[-1].caught_up:
                break
        assert [r.caught_up for r in reports[:-1]] == [False] * (len(reports) - 1) and reports[-1].caught_up
        cursors = [r.cursor for r in reports if r.cursor]
        assert cursors == sorted(cursors) and cursors[1] >= died_at  # never back

        ids, counts = _ledger_sets(w)
        assert ids == sorted(w.ids)
        # Each order once, with its own children once, as one full read writes them.
        full = _sets(w.client.get_orders_money(w.ids))
        assert counts == (
            len(full),
            sum(len(s.refunds) for s in full),
            sum(len(r.lines) for s in full for r in s.refunds),
            sum(len(s.lines) for s in full),
        )
        assert w.ledger.get_cursor(CURSOR) == cursors[-1]


def test_a_cursor_reached_long_after_resumes_where_it_stopped(tmp_path: Path) -> None:
    """Only orders changed shortly before the listing that reached the cursor can be missing from
    Shopify's index: those are read again; a backlog's cursor, reached long after, is not."""
    ledger = Ledger(tmp_path / "ledger.duckdb")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert read_money_module._since(ledger, now, timedelta(days=2)) == (now - timedelta(days=2), None)
    cursor = now - timedelta(hours=1)
    with ledger.transaction() as con:
        cursors.put(con, CURSOR, cursor.isoformat())
    assert read_money_module._since(ledger, now, timedelta(days=2))[0] == cursor - timedelta(seconds=30)
    for listed_at, since in ((cursor + timedelta(seconds=5), cursor - timedelta(seconds=25)),
                             (cursor + timedelta(minutes=10), cursor)):  # fmt: skip
        with ledger.transaction() as con:
            cursors.put(con, LISTED_AT, listed_at.isoformat())
        assert read_money_module._since(ledger, now, timedelta(days=2)) == (since, cursor)


class Listing:
    """A money source handing over set pages: (orders as read, newest `updatedAt` the listing showed)."""

    def __init__(self, pages: list[tuple[list[FinanceOrderSet], datetime]]) -> None:
        self.pages = pages

    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        raise AssertionError("a normal read lists pages")

    def pages_changed_since(self, since: datetime) -> Iterator[OrdersPage]:
        for orders, listed in self.pages:
            yield OrdersPage(orders, listed)

    def orders(self, order_ids: list[str]) -> list[FinanceOrderSet]:
        return []


def _order(number: int, updated: datetime) -> FinanceOrderSet:
    g = factories.Generated(number, factories.DAY, "GBP", False, [factories.Line("MUG", 1, 0, True, Decimal("8.00"), [])],
                            [], [], [], Decimal("8.00"), Decimal("0.00"), Decimal("0.00"), Decimal("0.00"), None)  # fmt: skip
    s = factories.finance_set(g)
    return replace(s, order=replace(s.order, shopify_updated_at=updated))


def test_the_cursor_comes_from_the_listing_and_only_moves_forward(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    cursor, first_listed = (
        datetime(2026, 11, 30, 12, tzinfo=UTC),
        datetime(2026, 11, 30, 12, 0, 1, tzinfo=UTC),
    )
    with ledger.transaction() as con:
        cursors.put(con, CURSOR, cursor.isoformat())
        cursors.put(con, LISTED_AT, first_listed.isoformat())
    now = datetime.now(UTC)
    # Only orders at or before the cursor (the overlap): a run over its budget reads on (it has got
    # nowhere yet), and neither the cursor nor when it was first listed moves.
    again = Listing([([_order(1, cursor)], cursor), ([_order(2, cursor - timedelta(seconds=5))], cursor)])
    report = read_money(again, ledger, now, timedelta(days=1), max_seconds=1e-9)
    assert (report.orders_read, report.caught_up) == (2, True)
    assert (ledger.get_cursor(CURSOR), ledger.get_cursor(LISTED_AT)) == (
        cursor.isoformat(),
        first_listed.isoformat(),
    )
    # An order read again by id after its listing is newer than the orders listed after it: the cursor
    # is where the listing got, so the next run still finds them.
    listed = cursor + timedelta(minutes=1)
    ahead = Listing([([_order(3, cursor + timedelta(minutes=9))], listed), ([_order(4, listed)], listed)])
    report = read_money(ahead, ledger, now, timedelta(days=1), max_seconds=1e-9)
    assert (report.orders_read, report.caught_up, report.cursor) == (1, False, listed.isoformat())
    assert ledger.get_cursor(CURSOR) == listed.isoformat()
