"""Domain models ↔ ledger rows: a snapshot written with `order_row` reads back as the same order."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.models import Attribute, BundleGroup, ShopOrder
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.records import aware, line_rows, naive, order_row, previous_from_row
from sync_pipeline.lib.flows.orders.state import Observation, observe
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline_tests.domain.factories import T0, make_line, make_order, shop_orders

NOW = T0 + timedelta(hours=1)
zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
moments = st.builds(
    lambda base, micro, zone: (base + timedelta(microseconds=micro)).astimezone(zone),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 999_999),
    zones,
)


@st.composite
def snapshots(draw: st.DrawFn) -> ShopOrder:
    """Orders as Shopify gives them: any offsets, odd text, bundles, prices with cents."""
    order = draw(shop_orders())
    return order.model_copy(
        update={
            "name": draw(st.text(min_size=1, max_size=12)),
            "created_at": draw(moments),
            "updated_at": draw(moments),
            "processed_at": draw(st.none() | moments),
            "cancelled_at": draw(st.none() | moments),
            "financial_status": draw(st.sampled_from(["PAID", "PENDING", "PARTIALLY_REFUNDED"])),
            "custom_attributes": tuple(
                draw(
                    st.lists(
                        st.builds(Attribute, key=st.text(max_size=8), value=st.none() | st.text()), max_size=3
                    )
                )
            ),
            "phone": draw(st.none() | st.text(max_size=15)),
            "total": draw(st.decimals(min_value=0, max_value=10**6, places=2)),
            "currency": draw(st.sampled_from(["GBP", "EUR", "USD"])),
        }
    )


@functools.cache
def _shared_ledger(path: Path) -> Ledger:
    return Ledger(path)


observations = st.builds(
    Observation,
    state=st.sampled_from(sorted(state.PRE_RELEASE_STATES | state.WAREHOUSE_STATES | {state.TOO_OLD})),
    paid_at=st.none() | moments,
    release_due_at=st.none() | moments,
    change_pending=st.booleans(),
)


@settings(max_examples=30, deadline=None)
@given(snapshots(), observations)
def test_snapshot_round_trips_through_the_ledger(tmp_path_factory, order, seen) -> None:
    # One file per test run (migrating a new file per example is slow); each example overwrites.
    ledger = _shared_ledger(tmp_path_factory.getbasetemp() / "records_round_trip.duckdb")
    with ledger.transaction() as con:
        ledger_orders.upsert(con, [order_row(order, seen, "SHP-", None, NOW)])
        ledger_orders.replace_lines(con, [order.id], line_rows(order))
        row = ledger_orders.get_many(con, [order.id])[order.id]
        lines = con.execute(
            "SELECT line_id, sku, quantity FROM order_lines WHERE shopify_order_id = ? ORDER BY line_id",
            [order.id],
        ).fetchall()
    previous = previous_from_row(row)
    assert previous.order == order
    assert previous.state == seen.state
    assert previous.paid_at == seen.paid_at
    assert previous.release_due_at == seen.release_due_at
    assert previous.change_pending is seen.change_pending
    for moment in (previous.paid_at, previous.release_due_at):
        assert moment is None or moment.tzinfo is not None
    assert row.shopify_created_at == naive(order.created_at)
    assert row.order_date == naive(order.created_at).date()  # type: ignore[union-attr]
    assert row.sales_order_number == f"SHP-{order.id.rsplit('/', 1)[1]}"
    assert sorted((line.id, line.sku, line.quantity) for line in order.lines) == lines


def test_reading_the_same_snapshot_back_is_an_unchanged_observation(tmp_path: Path) -> None:
    """The ledger round trip must not make an unchanged order look edited (no duplicate events)."""
    order = make_order(
        make_line("1", "TEE-BLK-M", 2, unit_price=Decimal("19.99")),
        make_line("2", "TEE-BLK-L", 1, bundle_group=BundleGroup(id="g", title="Pack", quantity=1)),
        created_at=T0.astimezone(timezone(timedelta(hours=2))),
        total=Decimal("59.97"),
    )
    seen = observe(None, order, NOW, 900, 30)
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.transaction() as con:
        ledger_orders.upsert(con, [order_row(order, seen, "SHP-", None, NOW)])
        row = ledger_orders.get_many(con, [order.id])[order.id]
    again = observe(previous_from_row(row), order, NOW + timedelta(minutes=5), 900, 30)
    assert again.changed is False
    assert again.events == []


def test_order_row_keeps_what_other_steps_wrote() -> None:
    order = make_order()
    seen = observe(None, order, NOW, 900, 30)
    first = order_row(order, seen, "SHP-", None, NOW)
    assert first.sales_order_number == "SHP-5678901234567"
    assert first.legacy_id == 5678901234567
    assert (first.site, first.channel, first.pvx_status, first.fulfillment_status) == (None, None, None, None)
    before = ledger_orders.OrderRow(
        **{
            **first.__dict__,
            "sales_order_number": "OLD-5678901234567",
            "site": "PrimarySite",
            "channel": "Web",
            "pvx_status": "Picking",
            "pvx_status_at": datetime(2026, 10, 1, 12, 0),
            "fulfillment_status": "UNFULFILLED",
        }
    )
    again = order_row(order, seen, "NEW-", before, NOW)
    assert again.sales_order_number == "OLD-5678901234567"  # never renumbered once known
    assert (again.site, again.channel, again.pvx_status, again.fulfillment_status) == (
        "PrimarySite",
        "Web",
        "Picking",
        "UNFULFILLED",
    )
    assert again.pvx_status_at == datetime(2026, 10, 1, 12, 0)


def test_naive_and_aware_are_inverse_in_utc() -> None:
    moment = datetime(2026, 10, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    assert naive(moment) == datetime(2026, 10, 1, 9, 30)
    assert aware(naive(moment)) == moment
    assert naive(None) is None and aware(None) is None
    assert naive(datetime(2026, 1, 1)) == datetime(2026, 1, 1)


def test_line_rows_carry_bundle_groups() -> None:
    order = make_order(
        make_line("1", "TEE-BLK-M", 2),
        make_line("2", None, 1, requires_shipping=False, is_gift_card=True),
        make_line("3", "SOCK-BLK-OS", 1, bundle_group=BundleGroup(id="g7", title="Starter", quantity=1)),
    )
    rows = line_rows(order)
    assert [(r.line_id, r.sku, r.quantity, r.bundle_group) for r in rows] == [
        ("1", "TEE-BLK-M", 2, None),
        ("2", None, 1, None),
        ("3", "SOCK-BLK-OS", 1, "g7"),
    ]
    assert rows[1].is_gift_card and not rows[1].requires_shipping


@pytest.mark.parametrize("bad_id", ["gid://shopify/Order/abc", "gid://shopify/Order/0"])
def test_order_row_refuses_an_id_with_no_number(bad_id: str) -> None:
    order = make_order(id=bad_id)
    with pytest.raises(ValueError, match="not a Shopify order id"):
        order_row(order, observe(None, order, NOW, 900, 30), "SHP-", None, NOW)
