"""Velocity, peak mode and who goes first; when a slow seller's push waits for room in the bucket."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.stock_priority import (
    bucket_has_room,
    fastest_first,
    is_peak,
    item_velocity,
    order_pushes,
    waits_for_room,
)

from .factories import PROPERTY, RULES

PEAK = RULES.stock_buffers.peak
RECIPES = {"A": (("A", 1),), "BOX": (("A", 1), ("B", 2))}


def test_a_bundles_sales_count_for_its_components() -> None:
    velocity = item_velocity({"A": 24, "BOX": 12}, RECIPES)
    assert velocity == {"A": 1.5, "B": 1.0}


def test_peak_mode_is_the_order_rate_over_the_window() -> None:
    assert PEAK is not None and (PEAK.orders_per_minute, PEAK.window_minutes) == (30, 10)
    assert not is_peak(300, PEAK) and is_peak(301, PEAK) and not is_peak(10_000, None)


def test_a_slow_sellers_raise_waits_only_in_peak_mode_with_a_flow_behind_and_no_room() -> None:
    slow, fast = 0.01, 5.0
    # The session-7 rehearsal's case: peak mode, fulfilments behind, but the bucket has room.
    assert not waits_for_room(slow, True, PEAK, backlogged=True, room=True, lowers=False)
    assert waits_for_room(slow, True, PEAK, backlogged=True, room=False, lowers=False)
    assert not waits_for_room(slow, True, PEAK, backlogged=False, room=False, lowers=False)
    assert not waits_for_room(slow, False, PEAK, backlogged=True, room=False, lowers=False)
    assert not waits_for_room(fast, True, PEAK, backlogged=True, room=False, lowers=False)
    assert not waits_for_room(slow, True, PEAK, backlogged=True, room=False, lowers=True)


def test_the_bucket_has_room_when_it_holds_what_backlogged_flows_are_left() -> None:
    assert bucket_has_room(1400, 2000, 0.3) and not bucket_has_room(1399, 2000, 0.3)
    assert not bucket_has_room(None, 2000, 0.3) and not bucket_has_room(2000, None, 0.3)


KEYS = st.tuples(st.sampled_from(["A", "B", "C", "D", "E", "F"]), st.sampled_from(["L1", "L2"]))


@PROPERTY
@given(
    st.sets(KEYS, max_size=12),
    st.dictionaries(st.sampled_from(list("ABCDEF")), st.sampled_from([0.0, 0.05, 0.1, 0.5, 3.0]), max_size=6),
    st.sets(KEYS, max_size=12),
    st.booleans(),
    st.booleans(),
    st.floats(0, 2000),
    st.floats(0.05, 1),
)
def test_fast_sellers_go_first_and_slow_ones_wait_only_for_a_contested_bucket(  # type: ignore[no-untyped-def]
    keys, velocity, lowering, peak_on, backlogged, available, share
) -> None:
    assert PEAK is not None
    room = bucket_has_room(available, 2000, share)
    go, wait = order_pushes(keys, velocity, lowering, PEAK, peak_on, backlogged, room)
    # Every push goes or waits, once.
    assert sorted(go + wait) == sorted(keys) and not set(go) & set(wait)
    speeds = [velocity.get(sku, 0.0) for sku, _ in go]
    assert speeds == sorted(speeds, reverse=True)  # fastest first
    for sku, location in wait:
        # Only a slow seller's raise waits, and only in peak mode, with a flow behind and no room.
        assert velocity.get(sku, 0.0) < PEAK.slow_below_units_per_hour
        assert (sku, location) not in lowering
        assert peak_on and backlogged and available < (1 - share) * 2000
    if not (peak_on and backlogged) or room:
        assert wait == []
    # When anything waits, every raise that goes is a fast seller's: no slow seller jumps the queue.
    if wait:
        assert all(velocity.get(k[0], 0.0) >= PEAK.slow_below_units_per_hour for k in go if k not in lowering)


@PROPERTY
@given(
    st.dictionaries(st.sampled_from(list("ABCDEFGH")), st.floats(0, 50), max_size=8),
    st.sets(st.sampled_from(list("ABCDEFGHIJ"))),
)
def test_fastest_first_never_puts_a_slower_item_before_a_faster_one(velocity, items) -> None:  # type: ignore[no-untyped-def]
    ordered = fastest_first(items, velocity)
    assert sorted(ordered) == sorted(items)
    speeds = [velocity.get(c, 0.0) for c in ordered]
    assert speeds == sorted(speeds, reverse=True)
