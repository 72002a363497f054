from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.hold import is_due_for_release, is_too_old, release_due_at

from .factories import PROPERTY, T0


def test_due_exactly_at_the_end_of_the_window() -> None:
    assert release_due_at(T0, 900) == T0 + timedelta(seconds=900)
    assert not is_due_for_release(T0, T0 + timedelta(seconds=899), 900)
    assert is_due_for_release(T0, T0 + timedelta(seconds=900), 900)


def test_zero_window_releases_at_once() -> None:
    assert is_due_for_release(T0, T0, 0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_due_for_release(datetime(2026, 10, 1), T0, 60)


def test_too_old() -> None:
    assert is_too_old(T0, T0 + timedelta(days=31), 30)
    assert not is_too_old(T0, T0 + timedelta(days=30), 30)


@PROPERTY
@given(st.integers(0, 86_400), st.integers(-86_400, 86_400), st.integers(0, 86_400))
def test_once_due_stays_due(hold: int, offset: int, later: int) -> None:
    now = T0 + timedelta(seconds=offset)
    if is_due_for_release(T0, now, hold):
        assert is_due_for_release(T0, now + timedelta(seconds=later), hold)
