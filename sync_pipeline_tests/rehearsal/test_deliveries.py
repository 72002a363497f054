"""The stand-ins' own queues: how long callbacks and webhooks waited before they were sent."""

from sync_pipeline.rehearsal import deliveries, report
from sync_pipeline.rehearsal.accounting import Accounting
from sync_pipeline.rehearsal.profile import StoreProfile


def test_waits_are_summed_up_per_sandbox_and_per_kind_leaving_out_unsent_and_doubled_webhooks() -> None:
    peoplevox = {"AvailabilityChanges": [0.0, 0.1, 30.0], "TrackingNumberReceived": [2.0]}
    shopify = [
        {"topic": "orders/paid", "waited_s": 0.5},
        {"topic": "orders/paid", "waited_s": 1.5},
        {"topic": "orders/paid", "waited_s": 9.0, "duplicate": True},  # a fault's second copy
        {"topic": "orders/create", "status": "dropped"},  # never sent: no wait
        {"topic": "orders/create", "waited_s": 0.0},
    ]
    summary = deliveries.summary(peoplevox, shopify)
    assert summary["peoplevox"]["all"] == {"n": 4, "p50": 0.1, "p95": 30.0, "max": 30.0}
    assert summary["peoplevox"]["by_kind"]["TrackingNumberReceived"]["n"] == 1
    assert summary["shopify"]["all"] == {"n": 3, "p50": 0.5, "p95": 1.5, "max": 1.5}
    assert list(summary["shopify"]["by_kind"]) == ["orders/create", "orders/paid"]


def test_the_report_shows_the_waits_as_the_stand_ins_time_and_says_nothing_without_them() -> None:
    f = report.figures(
        StoreProfile(),
        owed_numbers=set(), timings=[], packages={}, fulfilled_at={}, stock_latencies=[], stock_unseen=0,
        shop_stats={}, shop_before={}, pvx_counters={}, pvx_before={}, peak_seconds=150.0,
        runs={}, accounting=Accounting(), oversell={}, sale={}, faults=[], load_average=[1.0], drained=True,
        deliveries=deliveries.summary({"AvailabilityChanges": [0.2, 74.5]}, []),
    )  # fmt: skip
    assert f["deliveries"]["peoplevox"]["all"]["p95"] == 74.5
    text = report.markdown(f, "sync-pipeline rehearse")
    assert "not the product's" in text
    assert (
        "- Peoplevox callbacks: p50 0.2 s · p95 74.5 s · max 74.5 s (n=2); AvailabilityChanges p95 74.5 s (n=2)."
        in text
    )
    assert "Shopify webhooks" not in text  # none were sent
    assert deliveries.markdown_lines({}) == []
    assert deliveries.markdown_lines(deliveries.summary({}, [])) == []
