"""Orders recorded from their webhook bodies: no Shopify read for what a body settles, a read by
id for what it cannot (refused, two changes in one second), never a lost or wrong version; bodies
too young to trust are waited for, within the step's budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, Clock, bodies_waiting, record_bodies
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.flows.orders.observed import SETTLE, record_orders
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline_tests.domain.factories import T0, make_line
from sync_pipeline_tests.flows.standins.rest import rest_body
from sync_pipeline_tests.flows.test_ingest import RULES, CountingShopify, order, rows

NOW = T0 + timedelta(hours=1)


class TaggingShopify(CountingShopify):
    """Serves customer tags too, and counts the orders they were read for."""

    def __init__(self, *orders: ShopOrder, tags: tuple[str, ...] = ()) -> None:
        super().__init__(*orders)
        self.tags, self.tags_read = tags, 0

    def customer_tags(self, ids: Sequence[str]) -> dict[str, tuple[datetime, tuple[str, ...]]]:
        self.tags_read += len(ids)
        return {i: (self.orders[i].updated_at, self.tags) for i in ids if i in self.orders}


def shop_order(n: int, **fields: Any) -> ShopOrder:
    line = make_line(f"gid://shopify/LineItem/{n}0", name="Tee - M")
    return order(n, lines=(line,), updated_at=T0 + timedelta(seconds=n), **fields)


def hook(inbox: Inbox, topic: str, body: dict[str, Any], webhook_id: str) -> None:
    inbox.write("shopify", {"topic": topic, "webhook_id": webhook_id, "payload": body}, webhook_id)


def by_id(ledger: Ledger, inbox: Inbox, shop: CountingShopify) -> int:
    """The pooled step's read by id of what the bodies left, as the ingest asset runs it."""
    return ingest_notified(inbox, shop, ledger, RULES, "test", NOW, until=ledger.get_cursor(BODY_CURSOR)).read


def test_bodies_record_orders_as_a_read_by_id_would_and_nothing_is_read(tmp_path: Path) -> None:
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    orders = [shop_order(n, tags=("vip", "gift")) for n in (1, 2, 3)]
    shop = CountingShopify(*orders)
    for o in orders:  # Shopify sends two topics for one payment: one order, one version
        hook(inbox, "orders/paid", rest_body(o, customer=False), f"paid-{o.id}")
        hook(inbox, "orders/updated", rest_body(o, customer=False), f"updated-{o.id}")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, sum(report.left_to_read.values()), report.caught_up) == (3, 0, True)
    assert by_id(ledger, inbox, shop) == 0
    assert ingest(shop, ledger, RULES, "test", NOW).orders_read == 0  # the poll finds them held
    assert shop.read_by_id == 0
    read = Ledger(tmp_path / "read.duckdb")
    record_orders(read, orders, RULES, "test", NOW, read_at=NOW)
    assert all(row.snapshot_from_body for row in rows(ledger, 1, 2, 3).values())
    assert _unread(rows(ledger, 1, 2, 3)) == _unread(rows(read, 1, 2, 3))
    assert record_bodies(inbox, ledger, RULES, "test", NOW).recorded == 0  # the cursor moved on


def _unread(found: dict[int, Any]) -> dict[int, Any]:
    """Rows without the moment each was read (a body is read when the step gets to it) nor
    whether from a body (release checks more of those; `release/reread.py`)."""
    return {n: replace(row, snapshot_read_at=None, snapshot_from_body=None) for n, row in found.items()}


def test_two_changes_in_one_second_are_read_by_id(tmp_path: Path) -> None:
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    first = shop_order(1)
    second = first.model_copy(update={"email": "new@example.com"})  # the same updatedAt
    shop = CountingShopify(second)
    hook(inbox, "orders/paid", rest_body(first, customer=False), "a")
    hook(inbox, "orders/updated", rest_body(second, customer=False), "b")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, report.left_to_read["two changes in one second"]) == (0, 1)
    assert by_id(ledger, inbox, shop) == 1
    assert rows(ledger, 1)[1].snapshot["email"] == "new@example.com"


def test_a_later_body_that_differs_at_the_held_version_unsettles_it(tmp_path: Path) -> None:
    """The second change of a second, its webhook in a later run: the ledger's snapshot of that
    version is no longer trusted, and the order is read by id."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    first = shop_order(1)
    second = first.model_copy(update={"tags": ("fraud-check",)})
    shop = CountingShopify(second)
    hook(inbox, "orders/paid", rest_body(first, customer=False), "a")
    assert record_bodies(inbox, ledger, RULES, "test", NOW).recorded == 1
    assert by_id(ledger, inbox, shop) == 0
    hook(inbox, "orders/updated", rest_body(second, customer=False), "b")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert report.left_to_read["differs from the ledger at its version"] == 1
    assert by_id(ledger, inbox, shop) == 1
    assert rows(ledger, 1)[1].snapshot["tags"] == ["fraud-check"]


def test_a_refused_body_is_logged_with_its_reason_and_read_by_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    b2b, broken = shop_order(1), shop_order(2)
    shop = CountingShopify(b2b, broken)
    hook(inbox, "orders/paid", rest_body(b2b, customer=False, company={"id": 5, "location_id": 6}), "a")
    body = rest_body(broken, customer=False)
    del body["line_items"][0]["current_quantity"]
    hook(inbox, "orders/paid", body, "b")
    with caplog.at_level(logging.WARNING):
        report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, report.left_to_read["body refused"]) == (0, 2)
    assert "B2B order" in caplog.text and "current_quantity" in caplog.text
    assert by_id(ledger, inbox, shop) == 2
    assert set(rows(ledger, 1, 2)) == {1, 2}


def test_a_body_keeps_each_lines_ordered_quantity_and_refuses_one_below_the_current(tmp_path: Path) -> None:
    """`quantity` (units ordered, refunded ones included) is what the despatch audit caps a line's
    fulfilled units at (a returned, refunded unit stays fulfilled): a body records it as a read does;
    one below `current_quantity` is no Shopify line and is read by id instead."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    line = make_line("gid://shopify/LineItem/10", name="Tee - M", quantity=1)
    returned = order(1, lines=(line.model_copy(update={"ordered_quantity": 2}),), updated_at=T0)
    broken = shop_order(2)
    shop = CountingShopify(returned, broken)
    hook(inbox, "orders/updated", rest_body(returned, customer=False), "a")
    body = rest_body(broken, customer=False)
    body["line_items"][0]["quantity"] = 0
    hook(inbox, "orders/updated", body, "b")
    report = record_bodies(inbox, ledger, RULES, "test", NOW)
    assert (report.recorded, report.left_to_read["body refused"]) == (1, 1)
    assert rows(ledger, 1)[1].snapshot["lines"][0]["ordered_quantity"] == 2
    assert by_id(ledger, inbox, shop) == 1


def test_customer_tags_no_body_carries_are_read_before_routing_needs_them(tmp_path: Path) -> None:
    """A new order with a customer is recorded without its customer tags; when a routing rule
    matches on them (the example config's wholesale rule), release reads them (cheaply)."""
    assert RULES.routing.reads_customer_tags
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    placed = shop_order(1)
    shop = TaggingShopify(placed.model_copy(update={"customer_tags": ("wholesale",)}), tags=("wholesale",))
    hook(inbox, "orders/paid", rest_body(placed), "a")
    assert record_bodies(inbox, ledger, RULES, "test", NOW).recorded == 1
    assert rows(ledger, 1)[1].snapshot["customer_tags"] is None
    assert fill_customer_tags(shop, ledger, RULES, "test", [placed.id], NOW) == []
    assert rows(ledger, 1)[1].snapshot["customer_tags"] == ["wholesale"]
    assert (shop.tags_read, shop.read_by_id) == (1, 0)
    assert fill_customer_tags(shop, ledger, RULES, "test", [placed.id], NOW) == []
    assert shop.tags_read == 1  # read once


class StepClock:
    """The body step's clock, moved only by its waits; `during_wait` is what arrives meanwhile."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.slept: list[float] = []
        self.during_wait: list[Callable[[], None]] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.elapsed += seconds
        for arrive in self.during_wait:
            arrive()

    def clock(self) -> Clock:
        return Clock(monotonic=lambda: self.elapsed, sleep=self.sleep)


def test_a_second_body_of_the_same_second_arriving_during_the_wait_keeps_both_unrecorded(
    tmp_path: Path,
) -> None:
    """The first body is a second old when the step takes it; the second change of that second
    sends its webhook while the step waits: which came last cannot be told, so neither is recorded
    (the read by id settles it), where recording the first at once would have kept a wrong version."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    first = shop_order(1).model_copy(update={"updated_at": NOW - timedelta(seconds=1)})
    second = first.model_copy(update={"email": "new@example.com"})  # the same updatedAt
    other = shop_order(2).model_copy(update={"updated_at": NOW - timedelta(seconds=2)})
    hook(inbox, "orders/paid", rest_body(first, customer=False), "a")
    hook(inbox, "orders/paid", rest_body(other, customer=False), "o")
    step = StepClock()
    step.during_wait.append(lambda: hook(inbox, "orders/updated", rest_body(second, customer=False), "b"))
    report = record_bodies(inbox, ledger, RULES, "test", NOW, clock=step.clock())
    assert step.slept == [pytest.approx(4.0)]  # until the younger version is SETTLE old
    assert (report.recorded, report.left_to_read["two changes in one second"]) == (1, 1)
    assert set(rows(ledger, 1, 2)) == {2}  # the other order, settled: nobody reads it again
    shop = CountingShopify(second, other)
    assert by_id(ledger, inbox, shop) == 1
    assert rows(ledger, 1)[1].snapshot["email"] == "new@example.com"


def test_a_burst_that_keeps_arriving_does_not_keep_the_step_past_its_budget(tmp_path: Path) -> None:
    """Bodies keep arriving while the step waits: it waits once, for the bodies it took (never
    for the new ones, the next run's), and never past its budget; what its budget could not
    settle is recorded unsettled, and read by id."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    step = StepClock()
    young = shop_order(1).model_copy(update={"updated_at": NOW})
    hook(inbox, "orders/paid", rest_body(young, customer=False), "young")
    burst = iter(range(100, 200))

    def arrive() -> None:  # ten new orders at the step's moment, and a newer version of the young one
        at = NOW + timedelta(seconds=step.elapsed)
        for n in (next(burst) for _ in range(10)):
            hook(
                inbox, "orders/paid", rest_body(shop_order(n).model_copy(update={"updated_at": at})), f"b{n}"
            )
        newer = young.model_copy(update={"updated_at": at, "email": f"{step.elapsed}@example.com"})
        hook(inbox, "orders/updated", rest_body(newer, customer=False), f"y{step.elapsed}")

    step.during_wait.append(arrive)
    short = record_bodies(inbox, ledger, RULES, "test", NOW, max_seconds=3.0, clock=step.clock())
    assert step.slept == [pytest.approx(3.0)]  # its budget, not the 5 s the young body needs
    assert (short.recorded, short.recorded_unsettled) == (1, 1)
    assert set(rows(ledger, 1, *range(100, 200))) == {1}  # the burst is the next run's
    assert by_id(ledger, inbox, CountingShopify(young)) == 1  # unsettled: read by id

    step.slept.clear()
    start = step.elapsed
    later = record_bodies(inbox, ledger, RULES, "test", NOW + timedelta(seconds=start), clock=step.clock())
    assert len(step.slept) == 1 and step.slept[0] <= SETTLE.total_seconds()  # once, for what it took
    assert step.elapsed - start <= SETTLE.total_seconds()
    assert (
        later.recorded == 11 and later.recorded_unsettled == 0
    )  # ten new orders, the young one's newer version
    assert len(rows(ledger, *range(100, 200))) == 10  # the ten that came during this wait: the next run's


def test_the_poll_leaves_an_order_whose_body_waits_in_the_inbox_to_the_next_body_step(tmp_path: Path) -> None:
    """A webhook that arrived after the body step listed the inbox: the live read's poll lists its
    order seconds after the change. Read then, it would be unsettled and read again; the next
    run's body step records it with no read, and the poll's cursor stays where it lists it again.
    An order Shopify holds at a newer version than its waiting body is read as before."""
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    young = shop_order(1).model_copy(update={"updated_at": NOW - timedelta(seconds=1)})
    edited = shop_order(2).model_copy(update={"updated_at": NOW - timedelta(seconds=10)})
    hook(inbox, "orders/paid", rest_body(young, customer=False), "young")
    hook(
        inbox,
        "orders/paid",
        rest_body(edited.model_copy(update={"updated_at": NOW - timedelta(seconds=12)})),
        "old",
    )
    shop = CountingShopify(young, edited)
    waiting = bodies_waiting(inbox, ledger.get_cursor(BODY_CURSOR))
    polled = ingest(shop, ledger, RULES, "test", NOW, bodies_waiting=waiting)
    assert (polled.orders_left_to_bodies, shop.read_by_id) == (1, 1)  # only the edited order is read
    assert set(rows(ledger, 1, 2)) == {2}
    step = StepClock()
    assert record_bodies(inbox, ledger, RULES, "test", NOW, clock=step.clock()).recorded == 1
    assert ingest(shop, ledger, RULES, "test", NOW + timedelta(seconds=step.elapsed)).orders_read == 0
    assert shop.read_by_id == 1 and set(rows(ledger, 1, 2)) == {1, 2}
