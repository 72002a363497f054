"""Despatches as the reports show them: multi-package, short picks, late tracking, report clause syntax."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.models import DespatchSummaryRow
from sync_pipeline_tests.peoplevox.conftest import Sandbox


def _order(client: PeoplevoxClient, number: str, lines: dict[str, int]) -> None:
    client.save_data("Sales orders", [{"SalesOrderNumber": number, "Email": "a@example.com"}])
    client.save_data(
        "Sales order items",
        [
            {"SalesOrderNumber": number, "ItemCode": c, "QuantityOrdered": q, "Line": c}
            for c, q in lines.items()
        ],
    )


def test_packages_short_picks_and_late_tracking(sandbox: Sandbox, client: PeoplevoxClient, receiver) -> None:  # type: ignore[no-untyped-def]
    sandbox.control.seed_items([("A", "1", "a"), ("B", "2", "b")])
    sandbox.control.set_stock([("A", "PrimarySite", 50), ("B", "PrimarySite", 50)])
    client.subscribe_event(
        "TrackingNumberReceived",
        receiver.url + "/t?so={Picks.SalesOrder.SalesOrderNumber}&d={DespatchNumber}&tn={TrackingNumber}",
    )
    _order(client, "SO-1", {"A": 3, "B": 2})
    started = datetime.now(UTC) - timedelta(minutes=1)
    first = sandbox.control.despatch("SO-1", [{"A": 2}, {"A": 1, "B": 1}], late_tracking=[False, True])
    assert [p["number"] for p in first["packages"]] == [
        f"{first['despatch_number']}-1",
        f"{first['despatch_number']}-2",
    ]
    assert first["status"] == "Allocated"  # one B short: the rest goes in a later despatch
    late = first["packages"][1]["number"]
    rows = list(
        client.iter_models(
            DespatchSummaryRow,
            clauses.and_(
                clauses.compare("[Despatch date]", ">=", started),
                clauses.report_column_equals("Salesorder number", "SO-1"),
            ),
            order_by="[Despatch date] asc",
        )
    )
    assert sorted(
        (r.despatch_number, r.item_code, r.number_of_items, bool(r.tracking_number)) for r in rows
    ) == [
        (first["packages"][0]["number"], "A", 2, True),
        (late, "A", 1, False),
        (late, "B", 1, False),
    ]
    assert all(r.carrier == "Royal Mail" and r.despatch_date is not None for r in rows)
    tracking = sandbox.control.assign_tracking(late)
    packages = list(
        client.iter_report_data(
            "Despatch package summary", clauses.report_column_equals("Package number", late)
        )
    )
    assert {p["Package tracking number"] for p in packages} == {tracking}
    assert {p["Despatch number"] for p in packages} == {first["despatch_number"]}
    assert {p["Sales order is partial despatched"] for p in packages} == {"True"}
    second = sandbox.control.despatch("SO-1", [{"B": 1}])
    assert second["status"] == "Despatched" and second["packages"][0]["number"] == second["despatch_number"]
    sandbox.control.flush_events()
    deadline = time.monotonic() + 5
    while len(receiver.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    numbers = [parse_qs(c["query"])["d"][0] for c in receiver.calls]
    # One callback per package, the late one only once its number exists, never blank.
    assert sorted(numbers) == sorted([first["packages"][0]["number"], late, second["despatch_number"]])
    assert all(parse_qs(c["query"])["tn"][0] for c in receiver.calls)


def test_random_late_tracking_arrives_after_the_delay(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(late_tracking_rate=1.0, tracking_delay=300) as box, box.client() as client:
        box.control.seed_items([("A", "1", "a")])
        box.control.set_stock([("A", "PrimarySite", 5)])
        _order(client, "SO-2", {"A": 1})
        box.control.advance(3650)
        (despatch,) = box.control.state().despatches
        assert despatch.packages[0].tracking_number == ""
        box.control.advance(301)
        (despatch,) = box.control.state().despatches
        assert despatch.packages[0].tracking_number.startswith("RM")
