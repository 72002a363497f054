"""The small helpers the rehearsal's report and the benchmarks share."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.lib.ledger.rehearsal import Fulfilled
from sync_pipeline.rehearsal import report
from sync_pipeline.rehearsal.accounting import Accounting
from sync_pipeline.rehearsal.profile import StoreProfile
from sync_pipeline.rehearsal.pvx_requests import by_flow, flow_of
from sync_pipeline.rehearsal.report import rounded, spread
from sync_pipeline.sandbox.shopify.control import points_by_operation


def test_spread_is_nearest_rank_rounded_and_says_none_for_no_values() -> None:
    assert spread([3.0, 1.04, 2.0, 10.26]) == {"n": 4, "p50": 2.0, "p95": 10.3, "max": 10.3}
    assert spread([]) == {"n": 0, "p50": None, "p95": None, "max": None}
    assert rounded(None) is None and rounded(1.256, 2) == 1.26


def test_points_by_operation_reads_only_the_per_operation_counters() -> None:
    stats = {"requests": 9, "points_spent": 30.5, "points_spent:OrdersPage": 20, "points_spent:Fulfil": 10.5}
    assert points_by_operation(stats) == {"OrdersPage": 20, "Fulfil": 10.5}


def test_peoplevox_requests_are_split_by_the_flow_that_made_them() -> None:
    counts = {
        "Authenticate": 2,
        "SaveData Sales orders": 60,
        "SaveData Sales order items": 45,
        "GetReportData Sales order summary": 200,
        "GetData Sales orders": 4,
        "GetReportData Despatch summary": 100,
        "GetReportData Item inventory summary": 24,
        "GetData Item types": 0,
        "GetReportData Some new report": 1,
    }
    flows = by_flow(counts, capacity=500)
    assert flows == {
        "orders": {"requests": 309, "share_of_limiter": 0.618},
        "despatches": {"requests": 100, "share_of_limiter": 0.2},
        "stock": {"requests": 24, "share_of_limiter": 0.048},
        "sessions": {"requests": 2, "share_of_limiter": 0.004},
        "other": {"requests": 1, "share_of_limiter": 0.002},
    }
    assert sum(f["requests"] for f in flows.values()) == sum(counts.values())
    assert flow_of("GetReportData despatch summary") == "despatches"  # Peoplevox reads names in any case


def test_the_report_shows_peoplevox_requests_per_flow_and_per_report_in_markdown_and_json() -> None:
    before = {"requests": {"GetReportData": 10}, "requests_by_name": {"GetReportData Despatch summary": 10}}
    after = {
        "requests": {"Authenticate": 1, "SaveData": 30, "GetReportData": 100},
        "requests_by_name": {
            "Authenticate": 1,
            "SaveData Sales orders": 30,
            "GetReportData Despatch summary": 70,
            "GetReportData Sales order summary": 30,
        },
    }
    f = report.figures(
        StoreProfile(),
        owed_numbers=set(), timings=[], packages={}, fulfilled_at={}, stock_latencies=[], stock_unseen=0,
        shop_stats={}, shop_before={}, pvx_counters=after, pvx_before=before, peak_seconds=150.0,
        runs={}, accounting=Accounting(), oversell={}, sale={}, faults=[], load_average=[1.0], drained=True,
    )  # fmt: skip
    pv = f["peoplevox"]
    # 150 s at 15 requests / 15 s: 150 requests allowed; the 10 read before the sale are not counted.
    assert pv["requests_by_flow"] == {
        "orders": {"requests": 60, "share_of_limiter": 0.4},
        "despatches": {"requests": 60, "share_of_limiter": 0.4},
        "sessions": {"requests": 1, "share_of_limiter": 0.007},
    }
    assert list(pv["requests_by_name"]) == [
        "GetReportData Despatch summary",
        "SaveData Sales orders",
        "GetReportData Sales order summary",
        "Authenticate",
    ]
    assert json.loads(json.dumps(f, default=str))["peoplevox"]["requests_by_flow"]["orders"]["requests"] == 60
    text = report.markdown(f, "sync-pipeline rehearse")
    assert (
        "Peoplevox requests by flow (÷ the limiter over the peak): orders 60 = 0.4; despatches 60 = 0.4;"
        in text
    )
    assert "'GetReportData Despatch summary': 60" in text


def test_the_floor_at_an_api_ceiling_grows_only_when_arrivals_outpace_it() -> None:
    start = datetime(2026, 11, 27, 9, tzinfo=UTC)
    # One a second against two a second: nobody waits.
    assert report.floor_at_ceiling([start + timedelta(seconds=i) for i in range(20)], 2.0) == 0.0
    # A hundred at once against ten a second, one at a time: the 95th waits 9.4 s.
    assert report.floor_at_ceiling([start] * 100, 10.0) == pytest.approx(9.4)
    # The same from a bucket that starts with 20: those go at once, the 95th waits 7.5 s.
    assert report.floor_at_ceiling([start] * 100, 10.0, burst=20) == pytest.approx(7.5)
    # A burst the bucket holds whole: nobody waits.
    assert report.floor_at_ceiling([start] * 100, 10.0, burst=100) == 0.0
    assert report.floor_at_ceiling([], 10.0) is None and report.floor_at_ceiling([start], None) is None


def _standard_plan_despatches(despatched: list[datetime], after: timedelta) -> dict:
    """The report for packages despatched at `despatched`, each fulfilled `after` later, at 10
    Shopify points a fulfilment on the Standard plan (a 2,000-point bucket, 100 points a second)."""
    packages = {f"D{i}": (f"P{i}", at) for i, at in enumerate(despatched)}
    fulfilled = {f"P{i}": Fulfilled(at=at + after) for i, at in enumerate(despatched)}
    points = 10 * len(despatched)
    shop = {"requests": len(despatched), "points_spent": points, "points_spent:FulfillmentCreate": points}
    return report.figures(
        StoreProfile(shopify_plan="standard"),
        owed_numbers=set(), timings=[], packages=packages, fulfilled_at=fulfilled, stock_latencies=[],
        stock_unseen=0, shop_stats=shop, shop_before={}, pvx_counters={}, pvx_before={}, peak_seconds=100.0,
        runs={}, accounting=Accounting(), oversell={}, sale={}, faults=[], load_average=[1.0], drained=True,
    )  # fmt: skip


def test_the_report_says_how_fast_packages_came_against_shopifys_ceiling_and_the_floor_it_sets() -> None:
    start = datetime(2026, 11, 27, 9, tzinfo=UTC)
    # 600 packages despatched over 60 s, each fulfilled 30 s later.
    f = _standard_plan_despatches(
        [start + timedelta(seconds=i / 10) for i in range(600)], timedelta(seconds=30)
    )
    d = f["despatches"]
    # Standard restores 100 points a second: 10 fulfilments a second = 600 a minute, as they came.
    assert d["shopify_ceiling_per_minute"] == 600.0
    assert d["despatched_per_minute"] == 601.0  # 600 in 59.9 s
    assert d["despatched_over_shopify_ceiling"] == 1.002
    assert d["p95_floor_at_shopify_ceiling_s"] == 0.0  # they came at its pace: nobody waits
    assert d["latency_s"]["p95"] == 30.0
    text = report.markdown(f, "sync-pipeline rehearse")
    assert "despatched at 601.0/min = 1.002 of Shopify's ceiling" in text
    # 6,000 of 10,000 points; no CPU figure.
    assert f["limits"]["nearest"] == "Shopify (points ÷ restore rate)"


def test_the_despatch_floor_counts_shopifys_full_bucket_first() -> None:
    start = datetime(2026, 11, 27, 9, tzinfo=UTC)
    # 600 packages despatched at once; the bucket holds 200 fulfilments at 10 points.
    f = _standard_plan_despatches([start] * 600, timedelta(seconds=60))
    # The 570th (the p95) goes 370 fulfilments after the bucket's 200, at 10 a second.
    assert f["despatches"]["p95_floor_at_shopify_ceiling_s"] == 37.0
