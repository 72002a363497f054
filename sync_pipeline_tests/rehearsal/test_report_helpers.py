"""The small helpers the rehearsal's report and the benchmarks share."""

from sync_pipeline.rehearsal.report import rounded, spread
from sync_pipeline.sandbox.shopify.control import points_by_operation


def test_spread_is_nearest_rank_rounded_and_says_none_for_no_values() -> None:
    assert spread([3.0, 1.04, 2.0, 10.26]) == {"n": 4, "p50": 2.0, "p95": 10.3, "max": 10.3}
    assert spread([]) == {"n": 0, "p50": None, "p95": None, "max": None}
    assert rounded(None) is None and rounded(1.256, 2) == 1.26


def test_points_by_operation_reads_only_the_per_operation_counters() -> None:
    stats = {"requests": 9, "points_spent": 30.5, "points_spent:OrdersPage": 20, "points_spent:Fulfil": 10.5}
    assert points_by_operation(stats) == {"OrdersPage": 20, "Fulfil": 10.5}
