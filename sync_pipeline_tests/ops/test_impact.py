"""The impact score: more value, less time, B2B and faster sellers never rank lower."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config.ops import OpsConfig
from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE
from sync_pipeline.lib.domain.impact import ExceptionFacts, Priority, despatch_deadline, score
from sync_pipeline.lib.flows.ops.ranking import rank, store_sales
from sync_pipeline.lib.ledger.ops import OpenExceptionRow, SkuSales

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


def _row(
    exception_id: int, kind: str, subject: str, opened_hours_ago: float, **order: object
) -> OpenExceptionRow:
    fields: dict[str, object] = {
        "shopify_order_id": None, "sales_order_number": None, "order_name": None, "order_state": None,
        "despatch_state": None, "total_price": None, "currency": None, "paid_seen_at": None,
        "package_state": None, "package_order_known": None, "tracking_posted": None, "b2b": False,
    }  # fmt: skip
    fields.update(order)
    at = NOW - timedelta(hours=opened_hours_ago)
    return OpenExceptionRow(exception_id=exception_id, kind=kind, owner=CATALOGUE[kind].owner.value,
                            message="?", subject=subject, opened_at=at, last_seen_at=at, occurrences=1,
                            **fields)  # type: ignore[arg-type]  # fmt: skip


def test_a_suspect_stock_feed_is_p1_and_ranks_first_even_with_no_sales() -> None:
    # It blocks every stock push for the store: weight 5 alone (no order, no SKU) would be P3.
    alone = score(facts(kind="stock_feed_suspect", value=None, hours_left=None), CONFIG, NOW)
    assert alone.priority is Priority.P1 and alone.score >= CONFIG.p1_score
    # A refused £80 order overdue by an hour is P1 too; the stoppage still ranks above it, however new.
    # fmt: off
    rows = [
        _row(1, "injection_failed", "SHP-1", 30, shopify_order_id="1", order_name="#1",
             total_price=Decimal("80"), paid_seen_at=NOW - timedelta(hours=25)),
        _row(2, "stock_push_refused", "TEE-BLK-M@loc", 2),
        _row(3, "stock_feed_suspect", "stock_feed", 0.1),
    ]
    # fmt: on
    sales = {"TEE-BLK-M": SkuSales(40.0, 20.0), "CAP-BLK-OS": SkuSales(10.0, 15.0)}
    ranked = rank(rows, {"1": ["TEE-BLK-M"]}, sales, CONFIG, NOW)
    top = ranked[0]
    assert top.kind == "stock_feed_suspect"
    assert top.priority is Priority.P1
    # Its value at risk is a day of the whole store's sales: 40 × £20 + 10 × £15.
    assert (top.value_at_risk, top.units_per_day) == (950.0, 50.0)
    # With no sales at all (a new store) it is still P1, scored at the P1 threshold.
    quiet = {r.kind: r for r in rank(rows, {"1": ["TEE-BLK-M"]}, {}, CONFIG, NOW)}["stock_feed_suspect"]
    assert (quiet.priority, quiet.impact) == (Priority.P1, CONFIG.p1_score)
    assert store_sales({}) is None
