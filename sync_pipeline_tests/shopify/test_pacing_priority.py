"""A background pacer leaves a share of Shopify's bucket to the hot path, and confirms with a fresh
status before spending while the last one it saw was low (the others spend between its requests)."""

from __future__ import annotations

import itertools

import pytest

from sync_pipeline.lib.shopify.pacing import CostPacer
from sync_pipeline_tests.shopify.test_pacing import Clock


def _cost(available: float, requested: float = 30) -> dict[str, object]:
    return {
        "requestedQueryCost": requested,
        "throttleStatus": {"maximumAvailable": 100.0, "currentlyAvailable": available, "restoreRate": 10.0},
    }


def test_a_background_pacer_waits_for_its_cost_plus_the_reserve() -> None:
    clock = Clock()
    hot = CostPacer(clock=clock, sleep=clock.sleep)
    hot.after_response("page", _cost(40.0))
    hot.before_request("page")  # 40 covers 30: the hot path goes at once
    assert clock.slept == []

    background = CostPacer(clock=clock, sleep=clock.sleep, reserve_share=0.5)
    background.after_response("page", _cost(40.0))
    background.before_request("page")  # needs 30 + 50: (80 - 40) / 10 s
    assert clock.slept == [4.0]
    assert background.yielded_seconds == pytest.approx(4.0)


def test_a_background_pacer_confirms_a_low_bucket_with_a_probe_before_it_spends() -> None:
    clock = Clock()
    background = CostPacer(clock=clock, sleep=clock.sleep, reserve_share=0.5)
    # What Shopify's bucket holds as time goes on: the hot path keeps it near 25 for 10 s.
    probed_at: list[float] = []

    def probe() -> None:
        probed_at.append(clock.now)
        background.after_response("CostProbe", _cost(25.0 if clock.now < 10.0 else 95.0, requested=1))

    background.probe = probe
    background.after_response("page", _cost(20.0))
    background.before_request("page")
    # Its estimate reached 80 after 6 s; the probes said 25 until 10 s, then 95: it went then.
    assert probed_at[0] == pytest.approx(6.0)
    assert probed_at[-1] >= 10.0 and len(probed_at) >= 2
    assert all(b - a >= 1.0 - 1e-9 for a, b in itertools.pairwise(probed_at))
    assert clock.now == pytest.approx(probed_at[-1])  # sent right after the probe that said yes
    assert background.yielded_seconds == pytest.approx(clock.now)
    assert not background.yield_gave_up


def test_a_background_pacer_stops_yielding_at_its_time_budget() -> None:
    clock = Clock()
    background = CostPacer(clock=clock, sleep=clock.sleep, reserve_share=0.5)
    background.probe = lambda: background.after_response("CostProbe", _cost(35.0, requested=1))
    background.yield_until = 7.5
    background.after_response("page", _cost(35.0))
    background.before_request("page")  # the bucket never gets above the reserve: it goes at 7.5 s
    assert clock.now == pytest.approx(7.5) and background.yield_gave_up
    assert background.yielded_seconds == pytest.approx(7.5)


def test_a_background_pacer_probes_before_its_first_request() -> None:
    clock = Clock()
    background = CostPacer(clock=clock, sleep=clock.sleep, reserve_share=0.5)
    seen: list[float] = []
    background.probe = lambda: (
        seen.append(clock.now),
        background.after_response("CostProbe", _cost(100.0, 1)),
    )
    background.before_request("page", hint=30.0)
    assert seen == [0.0] and clock.slept == []


def test_the_reserve_share_must_leave_room_for_the_request() -> None:
    with pytest.raises(ValueError, match="reserve_share"):
        CostPacer(reserve_share=1.0)


def test_a_page_dearer_than_the_share_left_waits_for_a_full_bucket_not_for_ever() -> None:
    """A page costing 70 with half of a 100-point bucket reserved needs more than the bucket: it
    waits for the fullest status a probe can confirm (the probe spends a point), then goes."""
    clock = Clock()
    background = CostPacer(clock=clock, sleep=clock.sleep, reserve_share=0.5)
    background.probe = lambda: background.after_response(
        "CostProbe", _cost(min(100.0, 10.0 * clock.now) - 1.0, requested=1)
    )
    background.after_response("page", _cost(0.0, requested=70))
    background.yield_until = clock.now + 3600
    background.before_request("page")
    assert not background.yield_gave_up
    assert clock.now < 60  # ~10 s to refill, not the hour's budget
