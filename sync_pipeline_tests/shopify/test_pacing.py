"""The pacer with requests out at once: a status describes the bucket after its own request, so the
costs reserved for requests still out come off it (else the next request is sent into THROTTLED)."""

from __future__ import annotations

from sync_pipeline.lib.shopify.pacing import CostPacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _cost(available: float) -> dict[str, object]:
    return {
        "requestedQueryCost": 30,
        "throttleStatus": {"maximumAvailable": 100.0, "currentlyAvailable": available, "restoreRate": 10.0},
    }


def test_a_status_does_not_forget_the_requests_still_out() -> None:
    clock = Clock()
    pacer = CostPacer(clock=clock, sleep=clock.sleep)
    pacer.after_response("write", _cost(100.0))
    first, second = pacer.before_request("write"), pacer.before_request("write")
    assert (first, second) == (30.0, 30.0) and pacer.estimate() == 40.0
    # The first comes back; Shopify has charged it but not yet the second, which is still out.
    pacer.answered(first)
    pacer.after_response("write", _cost(70.0))
    assert pacer.estimate() == 40.0  # 70 less the 30 reserved for the second, not 70
    pacer.before_request("write")  # 40 covers it
    assert clock.slept == []
    pacer.before_request("write")  # 10 left: waits (30 - 10) / 10 s
    assert clock.slept == [2.0]
    pacer.answered(second)
    pacer.answered(30.0)
    pacer.answered(30.0)
    pacer.after_response("write", _cost(100.0))
    assert pacer.estimate() == 100.0  # nothing out: the status is the whole story
