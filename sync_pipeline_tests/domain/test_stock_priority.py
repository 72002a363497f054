"""Velocity, peak mode and who goes first."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.stock_priority import fastest_first, is_peak, item_velocity, waits_for_reconcile

from .factories import PROPERTY, RULES

PEAK = RULES.stock_buffers.peak
RECIPES = {"A": (("A", 1),), "BOX": (("A", 1), ("B", 2))}


def test_a_bundles_sales_count_for_its_components() -> None:
    velocity = item_velocity({"A": 24, "BOX": 12}, RECIPES)
    assert velocity == {"A": 1.5, "B": 1.0}


def test_peak_mode_is_the_order_rate_over_the_window() -> None:
    assert PEAK is not None and (PEAK.orders_per_minute, PEAK.window_minutes) == (30, 10)
    assert not is_peak(300, PEAK) and is_peak(301, PEAK) and not is_peak(10_000, None)


def test_slow_sellers_wait_only_in_peak_mode() -> None:
    velocity = {"FAST": 5.0, "SLOW": 0.01}
    assert waits_for_reconcile("SLOW", velocity, True, PEAK)
    assert waits_for_reconcile("NEVER-SOLD", velocity, True, PEAK)
    assert not waits_for_reconcile("FAST", velocity, True, PEAK)
    assert not waits_for_reconcile("SLOW", velocity, False, PEAK)


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
