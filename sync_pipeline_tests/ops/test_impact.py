"""The impact score: more value, less time, B2B and faster sellers never rank lower."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config.ops import OpsConfig
from sync_pipeline.lib.domain.impact import ExceptionFacts, Priority, despatch_deadline, score

NOW = datetime(2026, 11, 27, 12, 0)
CONFIG = OpsConfig()
values = st.floats(min_value=0, max_value=1e6, allow_nan=False)
hours = st.floats(min_value=-100, max_value=100, allow_nan=False)


def facts(kind: str = "injection_failed", value: float | None = 80.0, hours_left: float | None = 20.0,
          b2b: bool = False, velocity: float | None = None, open_hours: float = 1.0) -> ExceptionFacts:  # fmt: skip
    return ExceptionFacts(
        kind=kind,
        opened_at=NOW - timedelta(hours=open_hours),
        value_at_risk=value,
        despatch_due_at=None if hours_left is None else NOW + timedelta(hours=hours_left),
        b2b=b2b,
        units_per_day=velocity,
    )


@settings(max_examples=60, deadline=None)
@given(a=values, b=values, h=hours)
def test_more_value_at_risk_never_ranks_lower(a: float, b: float, h: float) -> None:
    low, high = sorted((a, b))
    assert (
        score(facts(value=low, hours_left=h), CONFIG, NOW).score
        <= score(facts(value=high, hours_left=h), CONFIG, NOW).score
    )


@settings(max_examples=60, deadline=None)
@given(a=hours, b=hours, v=values)
def test_less_time_to_the_despatch_deadline_never_ranks_lower(a: float, b: float, v: float) -> None:
    sooner, later = sorted((a, b))
    assert (
        score(facts(value=v, hours_left=sooner), CONFIG, NOW).score
        >= score(facts(value=v, hours_left=later), CONFIG, NOW).score
    )


@settings(max_examples=40, deadline=None)
@given(v=values, h=hours, speed=st.floats(min_value=0, max_value=1e4, allow_nan=False))
def test_b2b_and_velocity_weigh_up(v: float, h: float, speed: float) -> None:
    base = score(facts(kind="unmapped_sku", value=v, hours_left=h), CONFIG, NOW).score
    assert score(facts(kind="unmapped_sku", value=v, hours_left=h, b2b=True), CONFIG, NOW).score >= base
    assert score(facts(kind="unmapped_sku", value=v, hours_left=h, velocity=speed), CONFIG, NOW).score >= base


def test_worked_examples() -> None:
    # A £80 refused order with 20 h left: weight 5 × (1 + log10 81) ≈ 14.5 → P2.
    refused = score(facts(), CONFIG, NOW)
    assert (refused.score, refused.priority, refused.urgency) == (14.54, Priority.P2, 1.0)
    # The same order overdue: urgency 3 → P1.
    assert score(facts(hours_left=-1), CONFIG, NOW).priority is Priority.P1
    # Velocity only counts for SKU problems; deadlines only for kinds that delay despatch.
    assert score(facts(velocity=500), CONFIG, NOW).score == refused.score
    assert score(facts(kind="over_despatched", hours_left=-50), CONFIG, NOW).urgency == 1.0
    # A shipping notice a day late is more urgent than a fresh one.
    assert score(facts(kind="tracking_missing", hours_left=None, open_hours=30), CONFIG, NOW).urgency == 1.5
    assert despatch_deadline(NOW, CONFIG) == NOW + timedelta(hours=24)
    assert despatch_deadline(None, CONFIG) is None
