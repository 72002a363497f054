"""Sandbox settings for what a real tenant may do differently: who can cancel, which status names.

Only `New`, `Despatched`, `Closed` and `Cancelled` are confirmed names and cancelling by import is
unconfirmed (API.md §10), so the sandbox can refuse `Status=Cancelled` and rename statuses.
"""

from __future__ import annotations

import httpx

from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline_tests.peoplevox.conftest import Receiver, Sandbox, seed_catalogue


def _place(client: PeoplevoxClient, number: str, code: str) -> None:
    assert client.save_data("Sales orders", [{"SalesOrderNumber": number, "Customer": "C"}]).ok
    row = {"SalesOrderNumber": number, "ItemCode": code, "QuantityOrdered": "1", "Line": "1"}
    assert client.save_data("Sales order items", [row]).ok


def _status(client: PeoplevoxClient, number: str) -> str:
    rows = list(client.iter_data("Sales orders", clauses.field_equals("SalesOrderNumber", number)))
    return rows[0]["Status"]


def test_cancel_by_import_off_refuses_the_row_and_a_person_can_still_cancel(
    sandbox: Sandbox, client: PeoplevoxClient
) -> None:
    code = seed_catalogue(sandbox.control, items=1)[0]
    _place(client, "SO-1", code)
    sandbox.control.configure(cancel_by_import=False)
    assert sandbox.control.state().settings["cancel_by_import"] is False

    result = client.save_data("Sales orders", [{"SalesOrderNumber": "SO-1", "Status": "Cancelled"}])
    assert not result.ok
    assert "Status cannot be changed from New to Cancelled by import" in (result.rows[0].error or "")
    assert _status(client, "SO-1") == "New"

    sandbox.control.force_status("SO-1", "Cancelled")  # someone cancels it in the Peoplevox UI
    assert _status(client, "SO-1") == "Cancelled"
    # A resent cancel of an order that is already cancelled changes nothing and is accepted.
    assert client.save_data("Sales orders", [{"SalesOrderNumber": "SO-1", "Status": "Cancelled"}]).ok

    sandbox.control.configure(cancel_by_import=True)
    _place(client, "SO-2", code)
    assert client.save_data("Sales orders", [{"SalesOrderNumber": "SO-2", "Status": "Cancelled"}]).ok
    assert _status(client, "SO-2") == "Cancelled"


def test_reported_statuses_rename_what_peoplevox_shows(
    sandbox: Sandbox, client: PeoplevoxClient, receiver: Receiver
) -> None:
    code = seed_catalogue(sandbox.control, items=1)[0]
    client.subscribe_event(
        "SalesOrderStatusChanges", receiver.url + "/s?n={SalesOrderNumber}&st={SalesOrderStatu.Name}"
    )
    sandbox.control.configure(reported_statuses={"Allocated": "Awaiting stock"})
    _place(client, "SO-1", code)
    sandbox.control.advance(400)
    state = sandbox.control.state().order("SO-1")
    assert (state.status, state.reported_status) == ("Allocated", "Awaiting stock")
    assert _status(client, "SO-1") == "Awaiting stock"
    # Re-sending the current (reported) status is an idempotent no-op, as for real names.
    assert client.save_data("Sales orders", [{"SalesOrderNumber": "SO-1", "Status": "Awaiting stock"}]).ok
    refused = client.save_data("Sales orders", [{"SalesOrderNumber": "SO-1", "Status": "New"}])
    assert "from Awaiting stock to New" in (refused.rows[0].error or "")

    assert sandbox.control.flush_events()
    assert [c["query"] for c in receiver.calls] == ["n=SO-1&st=New", "n=SO-1&st=Awaiting%20stock"]

    sandbox.control.configure(reported_statuses={})
    assert _status(client, "SO-1") == "Allocated"


def test_reported_statuses_must_name_known_statuses(sandbox: Sandbox) -> None:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/settings", json={"reported_statuses": {"Allocatd": "Awaiting stock"}}
    )
    assert answer.status_code == 400 and "Allocatd" in answer.text
