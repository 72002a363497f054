"""Orders named by webhooks are read by id when the search read has not shown them yet."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import ingest as ingest_module
from sync_pipeline.lib.flows.orders.ingest import ingest, ingest_notified
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline_tests.domain.factories import T0
from sync_pipeline_tests.flows.test_ingest import RULES, CountingShopify, FakeShopify, order, rows

NOW = T0 + timedelta(hours=1)


class LaggingIndex(FakeShopify):
    """The search index does not show order 2 yet; reads by id do."""

    def orders_updated_since(self, since: datetime) -> Iterator[ShopOrder]:
        return (o for o in super().orders_updated_since(since) if o.id != "gid://shopify/Order/2")


def _webhook(inbox: Inbox, o: ShopOrder, webhook_id: str) -> None:
    payload = {"admin_graphql_api_id": o.id, "updated_at": o.updated_at.isoformat()}
    inbox.write("shopify", {"topic": "orders/paid", "webhook_id": webhook_id, "payload": payload}, webhook_id)


def test_an_order_the_index_hides_is_read_by_id_and_the_rest_cost_nothing(tmp_path: Path) -> None:
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    first, hidden = order(1), order(2, updated_at=T0 + timedelta(seconds=5))
    shop = LaggingIndex(first, hidden)
    for n, o in enumerate((first, hidden)):
        _webhook(inbox, o, f"wh-{n}")
    ingest(shop, ledger, RULES, "test", NOW)
    assert set(rows(ledger, 1, 2)) == {1}  # the search read missed order 2
    assert ingest_notified(inbox, shop, ledger, RULES, "test", NOW).read == 1  # only order 2 read by id
    assert set(rows(ledger, 1, 2)) == {1, 2}
    assert ingest_notified(inbox, shop, ledger, RULES, "test", NOW).read == 0  # cursor moved on


def test_a_bulk_operation_finishing_is_no_order_and_no_warning(tmp_path: Path, caplog: Any) -> None:
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    payload = {"admin_graphql_api_id": "gid://shopify/BulkOperation/7", "status": "completed"}
    inbox.write("shopify", {"topic": "bulk_operations/finish", "payload": payload}, "wh-bulk")
    with caplog.at_level(logging.WARNING):
        assert ingest_notified(inbox, FakeShopify(), ledger, RULES, "test", NOW).read == 0
    assert caplog.records == []  # a warning per backfill would train people to ignore the log
    _webhook(inbox, order(1), "wh-1")  # the cursor moved past it: the next webhook is read
    assert ingest_notified(inbox, FakeShopify(order(1)), ledger, RULES, "test", NOW).read == 1


def test_reads_by_id_stop_at_the_budget_and_the_next_call_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sale's webhooks pile up while a run works: the read by id stops at its time budget (it
    holds the `shopify_orders` pool), keeps its place in the inbox and says it has not caught up,
    so the next run goes on from there; nothing is read twice (issue 13)."""
    monkeypatch.setattr(ingest_module, "CHUNK", CHUNK := 20)  # small chunks keep the test quick
    ledger, inbox = Ledger(tmp_path / "ledger.duckdb"), Inbox(tmp_path / "inbox")
    orders = [order(n, updated_at=T0 + timedelta(seconds=n / 100)) for n in range(1, 2 + 2 * CHUNK)]
    for o in orders:
        _webhook(inbox, o, f"wh-{o.id.rsplit('/', 1)[1]}")
    shop = CountingShopify(*orders)
    first = ingest_notified(inbox, shop, ledger, RULES, "test", NOW, max_seconds=0.0)
    assert (first.read, first.caught_up) == (CHUNK, False)
    assert shop.read_by_id == CHUNK
    second = ingest_notified(inbox, shop, ledger, RULES, "test", NOW, max_seconds=0.0)
    third = ingest_notified(inbox, shop, ledger, RULES, "test", NOW, max_seconds=0.0)
    assert (second.read, third.read, third.caught_up) == (CHUNK, 1, True)
    assert shop.read_by_id == len(orders)
    assert len(rows(ledger, *range(1, 2 + 2 * CHUNK))) == len(orders)
    assert ingest_notified(inbox, shop, ledger, RULES, "test", NOW).read == 0
