"""Finance reconciliation rules: one status per order, and a summary that ties out."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain import reconciliation as rec
from sync_pipeline.lib.domain.reconciliation import OrderFigures, ReconciledOrder

AS_OF = datetime(2026, 10, 10, 12, 0)
SLA = timedelta(hours=48)
money = st.sampled_from([Decimal("0.00"), Decimal("0.01"), Decimal("12.50"), Decimal("99.99")])
units = st.integers(0, 6)


@st.composite
def figures(draw: st.DrawFn) -> OrderFigures:
    refunded_shipped = draw(units)
    return OrderFigures(
        cancelled=draw(st.booleans()),
        units_current=draw(units),
        units_refunded_shipped=refunded_shipped,
        units_refunded_for_return=draw(st.integers(0, refunded_shipped)),
        units_despatched=draw(units),
        units_returned=draw(units),
        net_payment=draw(money),
        current_total=draw(money),
        refund_discrepancy=-draw(money),
        capturable=draw(money),
        paid_at=draw(st.none() | st.sampled_from([AS_OF - timedelta(hours=1), AS_OF - timedelta(days=5)])),
        units_returned_unmatched=draw(st.sampled_from([0, 0, 1])),
    )


@given(figures())
@settings(max_examples=300)
def test_every_order_gets_exactly_one_known_status(f: OrderFigures) -> None:
    assert rec.status(f, AS_OF, SLA) in rec.STATUSES
    assert len(set(rec.STATUSES)) == len(rec.STATUSES) == 9


@given(figures())
@settings(max_examples=200)
def test_units_to_despatch_lies_between_current_and_current_plus_refunded(f: OrderFigures) -> None:
    expected = rec.units_to_despatch(f)
    shipped_for_sure = f.units_current + f.units_refunded_for_return
    assert shipped_for_sure <= expected <= f.units_current + f.units_refunded_shipped
    assert expected <= max(shipped_for_sure, f.units_despatched)


@given(st.integers(2, 5), st.integers(1, 4))
def test_a_unit_refunded_to_be_returned_does_not_hide_one_not_shipped(ordered: int, shipped: int) -> None:
    """Some units shipped, one of them refunded to be returned (RETURN: Shopify allows it only for
    fulfilled units), the rest not shipped yet: the rest are still to ship, before and after the
    refunded unit comes back."""
    shipped = min(shipped, ordered - 1)
    waiting = OrderFigures(False, ordered - 1, 1, 1, shipped, 0, paid_at=AS_OF - timedelta(days=5))
    assert rec.units_to_despatch(waiting) == ordered
    assert rec.status(waiting, AS_OF, SLA) == rec.REFUNDED_NOT_RETURNED
    back = OrderFigures(False, ordered - 1, 1, 1, shipped, 1, paid_at=AS_OF - timedelta(days=5))
    assert rec.status(back, AS_OF, SLA) == rec.PAID_NOT_DESPATCHED
    done = OrderFigures(False, ordered - 1, 1, 1, ordered, 1, paid_at=AS_OF - timedelta(days=5))
    assert rec.status(done, AS_OF, SLA) == rec.MATCHED


@given(st.integers(1, 5), st.integers(0, 5), st.booleans())
def test_a_refund_and_return_after_full_despatch_keeps_the_order_matched(
    ordered: int, refunded: int, keep: bool
) -> None:
    """Shipped in full, then k units refunded: with the goods back (RETURN) or kept (NO_RESTOCK)
    the order is matched; a RETURN refund still waiting for the goods is refunded_not_returned."""
    k = min(refunded, ordered)
    after = OrderFigures(
        cancelled=False,
        units_current=ordered - k,
        units_refunded_shipped=k,
        units_refunded_for_return=0 if keep else k,
        units_despatched=ordered,
        units_returned=0 if keep else k,
    )
    assert rec.units_to_despatch(after) == ordered
    assert rec.status(after, AS_OF, SLA) == rec.MATCHED
    waiting = OrderFigures(False, ordered - k, k, k, ordered, 0)
    assert rec.status(waiting, AS_OF, SLA) == (rec.REFUNDED_NOT_RETURNED if k else rec.MATCHED)


@given(st.integers(1, 5), st.integers(0, 5))
def test_units_refunded_before_despatch_are_not_expected(ordered: int, refunded: int) -> None:
    """A NO_RESTOCK refund of units not yet shipped takes them off: shipping the rest matches."""
    k = min(refunded, ordered)
    f = OrderFigures(False, ordered - k, k, 0, ordered - k, 0)
    assert rec.units_to_despatch(f) == ordered - k
    assert rec.status(f, AS_OF, SLA) == rec.MATCHED


def test_the_sla_runs_from_payment() -> None:
    nothing_shipped = OrderFigures(False, 2, 0, 0, 0, 0, net_payment=Decimal("20.00"))
    inside = OrderFigures(**{**nothing_shipped.__dict__, "paid_at": AS_OF - SLA + timedelta(seconds=1)})
    past = OrderFigures(**{**nothing_shipped.__dict__, "paid_at": AS_OF - SLA})
    assert rec.status(nothing_shipped, AS_OF, SLA) == rec.AWAITING_DESPATCH  # not paid: no SLA yet
    assert rec.status(inside, AS_OF, SLA) == rec.AWAITING_DESPATCH
    assert rec.status(past, AS_OF, SLA) == rec.PAID_NOT_DESPATCHED


def test_an_item_returned_that_no_line_has_is_a_quantity_mismatch() -> None:
    """Everything shipped and paid, and an item came back that no line of the order is made of
    (booked on the wrong order, or an item the warehouse added): finance must look at it."""
    settled = OrderFigures(False, 2, 0, 0, 2, 0)
    stray = OrderFigures(**{**settled.__dict__, "units_returned_unmatched": 1})
    assert (rec.status(settled, AS_OF, SLA), rec.status(stray, AS_OF, SLA)) == (
        rec.MATCHED,
        rec.QUANTITY_MISMATCH,
    )


def test_each_status_is_reachable() -> None:
    old = AS_OF - timedelta(days=5)
    cases = {
        rec.MATCHED: OrderFigures(False, 2, 0, 0, 2, 0),
        rec.AWAITING_DESPATCH: OrderFigures(False, 2, 0, 0, 1, 0, paid_at=AS_OF),
        rec.PAID_NOT_DESPATCHED: OrderFigures(False, 2, 0, 0, 0, 0, paid_at=old),
        rec.DESPATCHED_NOT_PAID: OrderFigures(False, 2, 0, 0, 2, 0, current_total=Decimal("5.00")),
        rec.CANCELLED_BUT_DESPATCHED: OrderFigures(True, 0, 0, 0, 1, 0),
        rec.REFUNDED_NOT_RETURNED: OrderFigures(False, 1, 1, 1, 2, 0),
        rec.RETURNED_NOT_REFUNDED: OrderFigures(False, 2, 0, 0, 2, 1),
        rec.QUANTITY_MISMATCH: OrderFigures(False, 2, 0, 0, 3, 0),
        rec.FULFILLED_NOT_CAPTURED: OrderFigures(False, 2, 0, 0, 2, 0, capturable=Decimal("20.00")),
    }
    assert set(cases) == set(rec.STATUSES)
    for expected, f in cases.items():
        assert rec.status(f, AS_OF, SLA) == expected, expected


def test_a_cancelled_order_that_kept_the_money_is_paid_not_despatched() -> None:
    kept = OrderFigures(True, 0, 0, 0, 0, 0, net_payment=Decimal("40.00"))
    refunded = OrderFigures(True, 0, 0, 0, 0, 0, net_payment=Decimal("0.00"))
    shipped_back = OrderFigures(True, 0, 0, 0, 2, 2, net_payment=Decimal("0.00"))
    assert rec.status(kept, AS_OF, SLA) == rec.PAID_NOT_DESPATCHED
    assert rec.status(refunded, AS_OF, SLA) == rec.MATCHED
    assert rec.status(shipped_back, AS_OF, SLA) == rec.MATCHED


reconciled = st.builds(
    ReconciledOrder,
    order_date=st.sampled_from([date(2026, 10, 1), date(2026, 10, 2)]),
    currency=st.sampled_from(["GBP", "EUR"]),
    status=st.sampled_from(rec.STATUSES),
    total_price=st.decimals(min_value=0, max_value=10_000, places=2),
    refunded=st.decimals(min_value=0, max_value=500, places=2),
    received=st.decimals(min_value=0, max_value=10_000, places=2),
    despatched_value=st.decimals(min_value=0, max_value=10_000, places=2),
)


@given(st.lists(reconciled, max_size=40))
@settings(max_examples=150)
def test_the_summary_ties_out_to_the_penny_for_any_orders(orders: list[ReconciledOrder]) -> None:
    days = rec.summarise(orders)
    assert sum(d.orders for d in days.values()) == len(orders)
    assert sum((d.revenue for d in days.values()), Decimal(0)) == sum(
        (o.total_price for o in orders), Decimal(0)
    )
    for (day, currency), summary in days.items():
        assert rec.ties_out(summary)
        mine = [o for o in orders if (o.order_date, o.currency) == (day, currency)]
        assert summary.net == sum((o.total_price - o.refunded for o in mine), Decimal(0))


def test_a_summary_that_lost_an_order_does_not_tie_out() -> None:
    one = ReconciledOrder(date(2026, 10, 1), "GBP", rec.MATCHED, Decimal("10.00"), Decimal(0), Decimal(0),
                          Decimal(0))  # fmt: skip
    day = rec.summarise([one])[(date(2026, 10, 1), "GBP")]
    assert rec.ties_out(day)
    day.revenue += Decimal("0.01")
    assert not rec.ties_out(day)
