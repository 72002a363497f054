"""`ingest`: Shopify orders into the ledger through an in-memory `OrdersSource`."""

from __future__ import annotations

import functools
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import BusinessRules, load_business_rules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import ingest as ingest_module
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ingest import CHUNK, CURSOR, CURSOR_OVERLAP, ingest
from sync_pipeline.lib.flows.orders.ports import ListedOrder, OrdersSource
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline_tests.domain.factories import GOOD_ADDRESS, T0, make_line, make_order
from sync_pipeline_tests.flows.standins.shopify import listed
from sync_pipeline_tests.kept_open import ledger_kept_open

RULES: BusinessRules = load_business_rules(Path(__file__).resolve().parents[2] / "data" / "config")
NOW = T0 + timedelta(hours=1)
ACTOR = "run:test"


class FakeShopify:
    """Orders in memory, served the way the OrdersSource protocol promises."""

    def __init__(self, *orders: ShopOrder) -> None:
        self.orders: dict[str, ShopOrder] = {}
        self.reads: list[tuple[str, datetime, ...]] = []  # type: ignore[misc]
        self.extra: list[ShopOrder] = []  # served again after the rest (a page re-served)
        self.put(*orders)

    def put(self, *orders: ShopOrder) -> None:
        self.orders.update((o.id, o) for o in orders)

    def orders_updated_since(self, since: datetime) -> Iterator[ShopOrder]:
        self.reads.append(("updated_since", since))
        found = sorted((o for o in self.orders.values() if o.updated_at >= since), key=lambda o: o.updated_at)
        yield from found
        yield from self.extra

    def order_changes_since(self, since: datetime) -> Iterator[ListedOrder]:
        return map(listed, self.orders_updated_since(since))

    def orders_created_between(self, start: datetime, end: datetime) -> Iterator[ShopOrder]:
        self.reads.append(("created_between", start, end))
        yield from sorted(
            (o for o in self.orders.values() if start <= o.created_at < end), key=lambda o: o.id
        )

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        return {i: self.orders[i] for i in ids if i in self.orders}


def order(n: int, **fields: object) -> ShopOrder:
    fields.setdefault("name", f"#{1000 + n}")
    return make_order(id=f"gid://shopify/Order/{n}", **fields)


def kinds_for(ledger: Ledger, n: int) -> list[str]:
    return [e["kind"] for e in ledger.events_for(f"gid://shopify/Order/{n}")]


def all_events(ledger: Ledger) -> int:
    with ledger.transaction() as con:
        return ledger_events.count(con)


def rows(ledger: Ledger, *ns: int) -> dict[int, ledger_orders.OrderRow]:
    with ledger.transaction() as con:
        found = ledger_orders.get_many(con, [f"gid://shopify/Order/{n}" for n in ns])
    return {int(k.rsplit("/", 1)[1]): v for k, v in found.items()}


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with ledger_kept_open(tmp_path / "ledger.duckdb"):  # in-process only (kept_open.py)
        yield Ledger(tmp_path / "ledger.duckdb")


def test_first_ingest_creates_rows_and_events(ledger: Ledger) -> None:
    shop = FakeShopify(
        order(1),
        order(2, financial_status="PENDING", updated_at=T0 + timedelta(minutes=1)),
        order(3, cancelled_at=T0, updated_at=T0 + timedelta(minutes=2)),
    )
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert (report.orders_read, report.orders_changed) == (3, 3)
    assert report.states == Counter(
        {state.AWAITING_RELEASE: 1, state.AWAITING_PAYMENT: 1, state.CANCELLED_BEFORE_RELEASE: 1}
    )
    assert kinds_for(ledger, 1) == ["seen", "paid", "state_changed"]
    assert kinds_for(ledger, 2) == ["seen", "state_changed"]
    assert kinds_for(ledger, 3) == ["seen", "paid", "cancelled", "state_changed"]
    history = ledger.events_for("gid://shopify/Order/1")
    assert {e["actor"] for e in history} == {ACTOR}
    assert history[-1]["reason"] == "new → awaiting_release"

    got = rows(ledger, 1, 2, 3)
    assert got[1].state == state.AWAITING_RELEASE
    assert got[1].release_due_at == (T0 + timedelta(seconds=RULES.orders.hold_window_seconds)).replace(
        tzinfo=None
    )
    assert got[1].sales_order_number == f"{RULES.orders.sales_order_prefix}1"
    assert got[2].state == state.AWAITING_PAYMENT
    assert got[3].state == state.CANCELLED_BEFORE_RELEASE
    assert report.next_release_due_at == got[1].release_due_at
    assert report.pending_changes == 0
    with ledger.transaction() as con:
        lines = con.execute("SELECT shopify_order_id, sku, quantity FROM order_lines ORDER BY 1").fetchall()
    assert lines == [(f"gid://shopify/Order/{n}", "TEE-BLK-M", 1) for n in (1, 2, 3)]


def test_first_ingest_reads_from_the_initial_lookback(ledger: Ledger) -> None:
    shop = FakeShopify(order(1))
    ingest(shop, ledger, RULES, ACTOR, NOW, initial_lookback=timedelta(hours=3))
    assert shop.reads == [("updated_since", NOW - timedelta(hours=3))]


def test_reingesting_the_same_orders_writes_nothing(ledger: Ledger) -> None:
    shop = FakeShopify(order(1), order(2, financial_status="PENDING"), order(3, cancelled_at=T0))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    written = all_events(ledger)
    before = rows(ledger, 1, 2, 3)
    again = ingest(shop, ledger, RULES, ACTOR, NOW + timedelta(minutes=5))
    # Listed, and not read in full: the ledger holds each at its listed version, read long after.
    assert (again.orders_listed, again.orders_read, again.orders_changed) == (3, 0, 0)
    assert not again.events and not again.states
    assert all_events(ledger) == written
    assert rows(ledger, 1, 2, 3) == before
    # And a backfill over the same orders is just as quiet.
    backfill = ingest(shop, ledger, RULES, ACTOR, NOW, window=(T0 - timedelta(days=1), NOW))
    assert (backfill.orders_read, backfill.orders_changed) == (3, 0)
    assert all_events(ledger) == written


def test_edit_is_recorded_as_events_and_a_new_snapshot(ledger: Ledger) -> None:
    shop = FakeShopify(order(1, lines=(make_line("1", "TEE-BLK-M", 2),)))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    edited = order(
        1,
        lines=(make_line("1", "TEE-BLK-M", 1), make_line("2", "CAP-BLK-OS", 1)),
        shipping_address=GOOD_ADDRESS.model_copy(update={"city": "Leeds", "zip": "LS1 1AA"}),
        updated_at=T0 + timedelta(minutes=20),
    )
    shop.put(edited)
    report = ingest(shop, ledger, RULES, ACTOR, NOW + timedelta(minutes=30))
    assert report.orders_changed == 1
    assert report.events == Counter({"lines_changed": 1, "address_changed": 1})
    assert not report.states  # still awaiting release: the edit is absorbed
    assert kinds_for(ledger, 1)[-2:] == ["lines_changed", "address_changed"]
    history = ledger.events_for("gid://shopify/Order/1")
    assert "TEE-BLK-M 2 → 1; CAP-BLK-OS 0 → 1" in history[-2]["reason"]
    assert "city" in history[-1]["reason"] and "Leeds" not in history[-1]["reason"]  # values stay out
    row = rows(ledger, 1)[1]
    assert row.snapshot is not None and row.snapshot["shipping_address"]["city"] == "Leeds"
    with ledger.transaction() as con:
        lines = con.execute("SELECT sku, quantity FROM order_lines ORDER BY sku").fetchall()
    assert lines == [("CAP-BLK-OS", 1), ("TEE-BLK-M", 1)]


def test_cursor_advances_to_the_newest_update_and_rereads_with_overlap(ledger: Ledger) -> None:
    newest = T0 + timedelta(minutes=7)
    shop = FakeShopify(order(1, updated_at=newest), order(2, updated_at=T0 + timedelta(minutes=3)))
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert ledger.get_cursor(CURSOR) == newest.isoformat()
    assert report.cursor == newest.isoformat()
    ingest(shop, ledger, RULES, ACTOR, NOW)
    assert shop.reads[-1] == ("updated_since", newest - CURSOR_OVERLAP)
    # Nothing new: the cursor stays where it was.
    shop.orders.clear()
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert ledger.get_cursor(CURSOR) == newest.isoformat()
    assert report.cursor == newest.isoformat()


def test_cursor_advances_across_chunks(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sync_pipeline.lib.flows.orders.ingest.CHUNK", 2)
    shop = FakeShopify(*(order(n, updated_at=T0 + timedelta(minutes=n)) for n in range(1, 6)))
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert report.orders_read == 5
    assert ledger.get_cursor(CURSOR) == (T0 + timedelta(minutes=5)).isoformat()
    assert len(rows(ledger, 1, 2, 3, 4, 5)) == 5


def test_the_cursor_never_moves_back_mid_run(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run re-reads the overlap before the stored cursor; the chunks it commits there are older
    than the cursor, which must stay put (a crash or a reader mid-run would see it go back)."""
    monkeypatch.setattr("sync_pipeline.lib.flows.orders.ingest.CHUNK", 2)
    stored = T0 + timedelta(minutes=10)
    shop = FakeShopify(*(order(n, updated_at=stored - timedelta(seconds=10 - n)) for n in range(1, 11)))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    assert ledger.get_cursor(CURSOR) == stored.isoformat()
    shop.put(order(11, updated_at=stored + timedelta(seconds=5)))
    written: list[str] = []
    set_cursor = ledger.set_cursor

    def recording(name: str, value: str) -> None:
        written.append(value)
        set_cursor(name, value)

    monkeypatch.setattr(ledger, "set_cursor", recording)
    ingest(shop, ledger, RULES, ACTOR, NOW)
    assert written, "the run moved the cursor on"
    assert min(datetime.fromisoformat(w) for w in written) >= stored, written
    assert ledger.get_cursor(CURSOR) == (stored + timedelta(seconds=5)).isoformat()


def test_backfill_window_does_not_move_the_cursor(ledger: Ledger) -> None:
    shop = FakeShopify(order(1, updated_at=T0 + timedelta(minutes=1)))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    cursor = ledger.get_cursor(CURSOR)
    old = T0 - timedelta(days=3)
    shop.put(order(2, created_at=old, processed_at=old, updated_at=NOW + timedelta(hours=5)))
    report = ingest(shop, ledger, RULES, ACTOR, NOW, window=(T0 - timedelta(days=4), T0))
    assert shop.reads[-1] == ("created_between", T0 - timedelta(days=4), T0)
    assert report.orders_read == 1
    assert rows(ledger, 2)[2].state == state.AWAITING_RELEASE
    assert ledger.get_cursor(CURSOR) == cursor
    assert report.cursor == cursor  # the report shows the cursor, not the window's newest update


def test_backfill_of_old_orders_marks_them_too_old(ledger: Ledger) -> None:
    old = NOW - timedelta(days=RULES.orders.max_order_age_days + 1)
    shop = FakeShopify(order(1, created_at=old, processed_at=old, updated_at=old))
    report = ingest(shop, ledger, RULES, ACTOR, NOW, window=(old - timedelta(days=1), NOW))
    assert report.states == Counter({state.TOO_OLD: 1})
    assert report.next_release_due_at is None


def test_change_after_injection_sets_change_pending(ledger: Ledger) -> None:
    shop = FakeShopify(order(1))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    with ledger.transaction() as con:
        ledger_orders.set_fields(
            con, "gid://shopify/Order/1", state=state.IN_WAREHOUSE, site="PrimarySite", pvx_status="New"
        )
    shop.put(order(1, cancelled_at=NOW, updated_at=NOW))
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    row = rows(ledger, 1)[1]
    assert (row.state, row.change_pending, row.site, row.pvx_status) == (
        state.IN_WAREHOUSE,
        True,
        "PrimarySite",
        "New",
    )
    assert report.pending_changes == 1
    assert kinds_for(ledger, 1)[-1] == "cancelled"  # no state_changed: the warehouse state stays


def test_edit_of_a_held_order_releases_it_and_resolves_its_exceptions(ledger: Ledger) -> None:
    oid = "gid://shopify/Order/1"
    shop = FakeShopify(order(1, lines=(make_line(sku="NOPE"),)))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    with ledger.transaction() as con:
        ledger_orders.set_fields(con, oid, state=state.HELD)
    ledger.open_exceptions(
        [
            ExceptionRecord("unmapped_sku", "warehouse_ops", "SKU NOPE unmapped", shopify_order_id=oid),
            ExceptionRecord("change_after_cutoff", "cx", "unrelated", shopify_order_id=oid),
        ]
    )
    shop.put(order(1, lines=(make_line(sku="TEE-BLK-M"),), updated_at=NOW))
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert report.states == Counter({state.AWAITING_RELEASE: 1})
    assert rows(ledger, 1)[1].state == state.AWAITING_RELEASE
    assert [e.kind for e in ledger.list_open_exceptions()] == ["change_after_cutoff"]
    assert ledger.events_for(oid)[-1]["reason"] == "held → awaiting_release"


def test_same_order_twice_in_one_read_keeps_the_newer_version(ledger: Ledger) -> None:
    """A listing by updated_at can serve an order edited mid-read twice (old page and new page):
    it is read in full once, as Shopify has it now."""
    shop = FakeShopify(
        order(1, lines=(make_line("1", "TEE-BLK-M", 1),), updated_at=T0 + timedelta(minutes=9))
    )
    shop.put(order(2))
    shop.extra = [order(1, lines=(make_line("1", "TEE-BLK-M", 2),))]  # the stale copy, served again
    report = ingest(shop, ledger, RULES, ACTOR, NOW)
    assert (report.orders_listed, report.orders_read) == (3, 2)
    row = rows(ledger, 1)[1]
    assert row.snapshot is not None and row.snapshot["lines"][0]["quantity"] == 1
    assert kinds_for(ledger, 1) == ["seen", "paid", "state_changed"]
    with ledger.transaction() as con:
        lines = con.execute(
            "SELECT quantity FROM order_lines WHERE shopify_order_id = ?", [row.shopify_order_id]
        )
        assert lines.fetchall() == [(1,)]
    assert ledger.get_cursor(CURSOR) == (T0 + timedelta(minutes=9)).isoformat()


def test_naive_updated_at_is_read_as_utc(ledger: Ledger) -> None:
    naive = (T0 + timedelta(minutes=4)).replace(tzinfo=None)
    shop = FakeShopify(order(1, updated_at=naive), order(2, updated_at=T0 + timedelta(minutes=2)))
    shop.orders_updated_since = lambda since: iter(shop.orders.values())  # type: ignore[method-assign]
    ingest(shop, ledger, RULES, ACTOR, NOW)
    assert ledger.get_cursor(CURSOR) == (T0 + timedelta(minutes=4)).isoformat()


def test_fake_source_satisfies_the_port() -> None:
    source: OrdersSource = FakeShopify()
    assert list(source.order_changes_since(T0)) == []


edits = st.fixed_dictionaries(
    {},
    optional={
        "financial_status": st.sampled_from(["PAID", "PENDING", "PARTIALLY_REFUNDED", "REFUNDED"]),
        "cancelled_at": st.just(NOW),
        "lines": st.sampled_from([(make_line(quantity=2),), (make_line(sku="SOCK-BLK-OS"),), ()]),
        "email": st.sampled_from([None, "b@example.com"]),
        "shipping_address": st.sampled_from([None, GOOD_ADDRESS.model_copy(update={"zip": "LS1 1AA"})]),
    },
)


@functools.cache
def _shared_ledger(path: Path) -> Ledger:
    return Ledger(path)


_example_ids = itertools.count(100)


@settings(max_examples=6, deadline=None)
@given(st.lists(edits, min_size=1, max_size=3))
def test_any_sequence_of_edits_then_a_reread_is_quiet(tmp_path_factory, history) -> None:
    # One file for all examples (a new file per example is slow), a new order id per example,
    # and backfill windows so one example's cursor cannot hide the next example's orders.
    ledger = _shared_ledger(tmp_path_factory.getbasetemp() / "ingest_property.duckdb")
    n = next(_example_ids)
    window = (T0 - timedelta(days=1), NOW)
    shop = FakeShopify()
    for step, update in enumerate(history):
        shop.put(order(n, updated_at=T0 + timedelta(minutes=step), **update))
        ingest(shop, ledger, RULES, ACTOR, NOW, window=window)
    written = len(kinds_for(ledger, n))
    report = ingest(shop, ledger, RULES, ACTOR, NOW + timedelta(hours=1), window=window)
    assert report.orders_changed == 0
    assert len(kinds_for(ledger, n)) == written
    final = rows(ledger, n)[n]
    assert final.snapshot == shop.orders[f"gid://shopify/Order/{n}"].model_dump(mode="json")
    assert final.state in {state.AWAITING_PAYMENT, state.AWAITING_RELEASE, state.CANCELLED_BEFORE_RELEASE}


def test_with_the_budget_spent_ingest_still_gets_past_a_full_page_inside_the_overlap(ledger: Ledger) -> None:
    """More than a chunk of already-seen orders sits inside the overlap before anything new: a
    run whose time budget is already spent must read through them, record what is new and move
    the cursor forward, or every later run would stop in the same place (issue 17)."""
    seen_before = [order(n, updated_at=T0 + timedelta(seconds=n * 20 / 300)) for n in range(1, 301)]
    shop = FakeShopify(*seen_before)
    ingest(shop, ledger, RULES, ACTOR, NOW)
    stored = datetime.fromisoformat(str(ledger.get_cursor(CURSOR)))
    assert stored == T0 + timedelta(seconds=20)
    fresh = [order(n, updated_at=stored + timedelta(seconds=n - 300)) for n in range(301, 304)]
    shop.put(*fresh)

    report = ingest(shop, ledger, RULES, ACTOR, NOW, max_seconds=0.0)
    assert shop.reads[-1] == ("updated_since", stored - CURSOR_OVERLAP)
    assert report.orders_listed > CHUNK  # listed through the whole page of old orders…
    assert len(rows(ledger, 301, 302, 303)) == 3  # …to the new ones, which are recorded
    assert datetime.fromisoformat(str(ledger.get_cursor(CURSOR))) == stored + timedelta(seconds=3)


def test_a_backlog_is_read_in_bounded_batches_without_stalling(ledger: Ledger) -> None:
    # 600 orders: the first 400 all updated within the same second, inside the cursor overlap.
    same_second = [order(n, updated_at=T0) for n in range(1, 401)]
    later = [order(n, updated_at=T0 + timedelta(minutes=5, seconds=n)) for n in range(401, 601)]
    shop = FakeShopify(*same_second, *later)
    reports = []
    for _ in range(10):
        reports.append(ingest(shop, ledger, RULES, ACTOR, NOW, max_changed_orders=150))
        if reports[-1].caught_up:
            break
    assert not reports[0].caught_up  # stopped at its batch limit…
    assert reports[-1].caught_up  # …and later batches finished the job
    assert sum(r.orders_changed for r in reports) == 600  # each order recorded once
    assert len(reports) <= 5
    with ledger.transaction() as con:
        assert ledger_orders.state_counts(con) == {state.AWAITING_RELEASE: 600}


class CountingShopify(FakeShopify):
    """Counts the orders read in full by id (the expensive read; the listing is cheap)."""

    def __init__(self, *orders: ShopOrder) -> None:
        super().__init__(*orders)
        self.read_by_id = 0

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        self.read_by_id += len(ids)
        return super().orders_by_ids(ids)


def test_the_budget_holds_when_reads_by_id_never_move_the_cursor(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders the index showed late all sit inside the overlap, behind the stored cursor: every
    chunk reads its orders in full and none moves the cursor. A run must still stop at its budget
    (it holds the `shopify_orders` pool, which the next ingest run waits for); what it read
    is recorded, so the next run lists those cheaply and reads the next chunk (issue 13)."""
    monkeypatch.setattr(ingest_module, "CHUNK", CHUNK := 20)  # small chunks keep the test quick
    shop = CountingShopify(order(1, updated_at=T0 + timedelta(seconds=40)))
    ingest(shop, ledger, RULES, ACTOR, NOW)
    stored = datetime.fromisoformat(str(ledger.get_cursor(CURSOR)))
    late = [order(n, updated_at=stored - timedelta(seconds=20 - n / 100)) for n in range(2, 2 + 3 * CHUNK)]
    shop.put(*late)
    shop.read_by_id = 0

    first = ingest(shop, ledger, RULES, ACTOR, NOW, max_seconds=0.0)
    assert shop.read_by_id == CHUNK  # one chunk read in full, then the budget stopped it
    assert not first.caught_up
    runs = [first]
    while not runs[-1].caught_up and len(runs) < 10:
        runs.append(ingest(shop, ledger, RULES, ACTOR, NOW, max_seconds=0.0))
    assert len(runs) == 4 and runs[-1].caught_up  # the last one finds nothing left to read
    assert shop.read_by_id == 3 * CHUNK  # each late order read once
    assert len(rows(ledger, *range(2, 2 + 3 * CHUNK))) == 3 * CHUNK
    assert datetime.fromisoformat(str(ledger.get_cursor(CURSOR))) == stored
