"""The `Sales order summary` report over HTTP: statuses by modification time, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline_tests.peoplevox.conftest import Sandbox


def test_statuses_changed_since_come_from_one_report_request(
    sandbox: Sandbox, client: PeoplevoxClient
) -> None:
    sandbox.control.seed_items([("A", "1", "a")])
    sandbox.control.set_stock([("A", "PrimarySite", 50)])
    started = datetime.now(UTC) - timedelta(minutes=1)
    for number in ("SO-1", "SO-2", "SO-3"):
        client.save_data("Sales orders", [{"SalesOrderNumber": number, "Email": "a@example.com"}])
        client.save_data(
            "Sales order items",
            [{"SalesOrderNumber": number, "ItemCode": "A", "QuantityOrdered": 1, "Line": "A"}],
        )
    sandbox.control.force_status("SO-2", "Allocated")
    sandbox.control.force_status("SO-3", "Cancelled")
    assert client.get_report_columns("Sales order summary") == [
        "Sales order number",
        "Status",
        "Site reference",
        "Channel name",
        "Created date",
        "Last modification time",
    ]
    sent = client.requests_sent

    read = PeoplevoxWarehouse(client).statuses_changed_since(started)

    assert read is not None and client.requests_sent - sent == 1 == read.requests
    assert read.statuses == {"SO-1": "New", "SO-2": "Allocated", "SO-3": "Cancelled"}
    assert read.newest is not None and started - timedelta(minutes=1) <= read.newest <= datetime.now(UTC)
    later = PeoplevoxWarehouse(client).statuses_changed_since(datetime.now(UTC) + timedelta(minutes=2))
    assert later is not None and later.statuses == {} and later.newest is None
