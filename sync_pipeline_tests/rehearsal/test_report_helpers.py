"""The small helpers the rehearsal's report and the benchmarks share."""

import json

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
