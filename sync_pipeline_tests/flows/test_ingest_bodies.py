"""Orders recorded from their webhook bodies: no Shopify read for what a body settles, a read by
id for what it cannot (refused, two changes in one second), never a lost or wrong version."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, record_bodies
from sync_pipeline.lib.flows.orders.customer_tags import fill_customer_tags
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.flows.orders.observed import record_orders
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
