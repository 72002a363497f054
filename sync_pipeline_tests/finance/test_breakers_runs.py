"""Finance breakers, session 6: runs that overlap, and what finance opens when they do.

- an order refunded while the money read pages through Shopify: Shopify hands it over twice;
- a month backfill whose Shopify read started before a refund the nightly run has since read;
- a return booked in two goes under one return code;
- a free order (no payment transaction, PAID) not shipped within the SLA.

The files' side (overlapping reconciliations, a run killed before its files, two releases' day
files in one month, a three-decimal currency) is in `test_breakers_files.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.ports import OrdersPage
from sync_pipeline.lib.flows.finance.read_money import read_money
from sync_pipeline.lib.flows.finance.reconcile import reconcile_days, summarise
from sync_pipeline.lib.ledger.finance_orders import FinanceOrderSet
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline.sandbox.traffic_money import refund_one_unit
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance.world import RULES, World, world


@pytest.fixture
def w(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path) as made:
        yield made


def place(w: World, **spec: Any) -> int:
    w.ids.append(w.shop.place_order(OrderSpec(shipping_address=UK, **spec))["id"])
    return len(w.ids) - 1


class ReadThenWait:
    """A backfill's Shopify read: the orders are read, then `meanwhile` happens (the rest of a long
    month is paged), then they are handed over to be written."""

    def __init__(self, w: World, meanwhile: Callable[[], object]) -> None:
        self.w, self.meanwhile = w, meanwhile

    def orders_between(
        self, field: str, since: datetime, until: datetime | None = None
    ) -> Iterator[FinanceOrderSet]:
        read = list(self.w.money.orders_between(field, since, until))
        self.meanwhile()
        yield from read

    def orders(self, order_ids: Sequence[str]) -> list[FinanceOrderSet]:
        return self.w.money.orders(order_ids)


def reconcile_only(w: World) -> tuple[Any, datetime]:
    """The reconciliation and files of yesterday and today, with no read before them."""
    now = datetime.now(UTC)
    today = now.date()
    reconcile_days(w.ledger, w.exports, today - timedelta(days=1), today + timedelta(days=1), now, RULES)
    summarise(w.exports, today - timedelta(days=1), today + timedelta(days=1))
    return today, now


# -- a backfill beside the nightly run ----------------------------------------------------------
def test_a_backfill_read_before_a_refund_never_overwrites_the_refund_read_since(w: World) -> None:
    """The month backfill pages through Shopify for minutes; one of its pages holds an order before
    the customer's refund. Meanwhile the nightly run reads the refund (and moves its cursor past
    it). The backfill then writes its page: the ledger must keep the newer read, or the refund is
    gone from finance's files until the order happens to change again."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)])

    def refund_and_nightly_run() -> None:
        refund_one_unit(w.client, w.ids[i], "CANCEL")
        w.run()  # the nightly run reads the refund

    now = datetime.now(UTC)
    day = datetime.combine(now.date(), datetime.min.time(), UTC)
    read_money(ReadThenWait(w, refund_and_nightly_run), w.ledger, now, timedelta(days=1),
               window=(day - timedelta(days=1), day + timedelta(days=1)))  # fmt: skip
    w.check(*reconcile_only(w))  # the backfill's own reconciliation of the month


# -- an order changing under a paged read ------------------------------------------------------
def test_an_order_refunded_while_the_money_read_pages_through_shopify(w: World) -> None:
    """The read pages by `updated_at`: an order refunded after its page was read comes round again
    on a later page, in the same chunk of 500. The read must keep the newer one, not fail the run
    (it failed on the ledger's primary key, every retry the shop was busy)."""
    for _ in range(3):
        place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=2)])
    w.release()
    first = w.ids[0]

    class RefundMidRead:
        def orders_between(
            self, field: str, since: datetime, until: datetime | None = None
        ) -> Iterator[FinanceOrderSet]:
            return w.money.orders_between(field, since, until)

        def pages_changed_since(self, since: datetime) -> Iterator[OrdersPage]:
            for n, page in enumerate(w.money.pages_changed_since(since)):
                if n == 0:
                    # Shopify's updatedAt is to the second: a refund in the same second as the
                    # page's last order sorts before the page's cursor and comes round on the next
                    # run's read (its 30 s overlap), not this one. Under a loaded `make test` that
                    # happened (3 read, not 4): the refund waits for the next second.
                    time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)
                    refund_one_unit(w.client, first, "CANCEL")
                yield page

        def orders(self, order_ids: Sequence[str]) -> list[FinanceOrderSet]:
            return w.money.orders(order_ids)

    w.client.max_query_cost = 240  # two orders a page, as the full read's pages hold
    report = read_money(RefundMidRead(), w.ledger, datetime.now(UTC), timedelta(days=1))
    assert report.orders_read == 4  # the refunded order twice: before and after
    w.check(*reconcile_only(w))


# -- a return booked in two goes ----------------------------------------------------------------
def test_a_return_booked_in_two_goes_counts_both(w: World) -> None:
    """The warehouse opens a parcel of three tees, books one back on the shelf, and finance runs;
    then it books a second tee, graded the same, under the same return code. Peoplevox's Return
    summary has two rows; finance must count two units back."""
    i = place(w, lines=[LineSpec(sku="TEE-BLK-M", quantity=3)])
    w.release()
    w.despatch(i, False)
    w.fulfil()
    code = w.pvx.process_return(w.number(i), "TEE-BLK-M", 1, "Too small", reusable=True)
    w.check(*w.run())
    w.pvx.process_return(w.number(i), "TEE-BLK-M", 1, "Too small", reusable=True, return_code=code)
    today, as_of = w.run()
    w.check(today, as_of)  # Peoplevox: two back (finance counted one when rows were taken once)
    row = w.rows(today)[w.ids[i]]
    assert (row["units_returned"], row["units_returned_reusable"]) == (2, 2)


# -- a free order -------------------------------------------------------------------------------
def test_a_free_order_not_shipped_within_the_sla_is_late(tmp_path: Path) -> None:
    """A replacement sent free (every line at 0.00): Shopify takes no payment, records no
    transaction, and says PAID. Three days on, not shipped: it is as late as a paid order, not
    `awaiting_despatch` for ever (the SLA ran from the first payment transaction, and there is none)."""
    with world(tmp_path, later=timedelta(days=3)) as w:
        i = place(w, lines=[LineSpec(sku="TEE-BLK-M", price="0.00")])
        (money,) = w.client.get_orders_money([w.ids[i]])
        assert (money.display_financial_status, money.transactions) == ("PAID", [])  # as Shopify has it
        w.release()
        today, as_of = w.run()
        w.check(today, as_of)
        assert w.rows(today)[w.ids[i]]["status"] == rules.PAID_NOT_DESPATCHED
