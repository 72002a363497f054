"""An order too big for Shopify's query cost cap is never written undercounted: the money read holds
it with a `finance_order_unreadable` exception (owner finance) naming it, writes the other orders,
and closes the exception when a later read returns the order whole. Sandboxes over HTTP, a real
ledger file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.flows.finance.read_money import CURSOR, LISTED_AT, UNREADABLE, read_money
from sync_pipeline.lib.ledger import cursors
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import finance_orders as ledger_finance
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance.world import CODES, world


def test_an_order_too_big_to_read_whole_is_held_with_a_finance_exception(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        big, small = (w.shop.place_order(OrderSpec(shipping_address=UK, lines=[LineSpec(sku=CODES[0], quantity=q)]))["id"]
                      for q in (5, 1))  # fmt: skip
        w.ids += [big, small]
        for _ in range(4):
            w.refund(0, "NO_RESTOCK")  # four refunds: more than the first read's shape (3) holds
        # A client whose cap fits 2 refunds in the refunds-only query (1 + 2 x 23 <= 60): the big
        # order cannot be read whole, as an order with more refunds than fit in 1,000 points.
        w.client.max_query_cost = 60
        now = datetime.now(UTC)
        report = read_money(w.money, w.ledger, now, timedelta(days=1))
        today = now.date()
        with w.ledger.transaction() as con:
            assert set(ledger_finance.order_ids_between(con, today, today + timedelta(days=1))) == {small}
            [held] = ledger_exceptions.list_open(con, UNREADABLE)
        assert (report.orders_read, report.unreadable) == (2, 1)
        name = w.client.get_orders_money([big])[0].name
        assert (held.owner, held.shopify_order_id) == ("finance", big)
        assert name in held.message and "2 or more refunds" in held.message

        # Read whole again: the incremental search has gone past the order (nothing changed in it),
        # so it is asked for by id; written, and the exception closes.
        w.client.max_query_cost = 1000
        with w.ledger.transaction() as con:  # later runs: the search no longer finds the order
            later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
            cursors.put(con, CURSOR, later)
            cursors.put(con, LISTED_AT, later)
        report = read_money(w.money, w.ledger, datetime.now(UTC), timedelta(days=1))
        with w.ledger.transaction() as con:
            assert set(ledger_finance.order_ids_between(con, today, today + timedelta(days=1))) == {
                small,
                big,
            }
            assert ledger_exceptions.list_open(con, UNREADABLE) == []
        assert (report.orders_read, report.unreadable) == (0, 0)
