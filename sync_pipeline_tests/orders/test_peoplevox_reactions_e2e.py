"""How the orders flow reacts to what a Peoplevox tenant may do (issues 15 and 16.3), through
the real flow functions and the real Peoplevox client against both sandboxes: a status callback
only makes us read the order; a cancel is believed once read back; a tenant where only people
cancel, and a status the flow has never heard of, become exceptions for CX."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_pipeline.lib.flows.catalogue import refresh
from sync_pipeline.lib.flows.orders import statuses
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.sandbox.shopify.control import AddressSpec, CancelSpec, LineSpec, OrderSpec
from sync_pipeline_tests.orders.conftest import Stack

ADDRESS = AddressSpec(name="Ada Lovelace", address1="1 St James's Sq", city="London", zip="SW1Y 4JU")


def _injected(stack: Stack) -> str:
    refresh(stack.source, stack.warehouse, stack.ledger, stack.rules)
    stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=ADDRESS))
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))
    [order] = stack.pvx.state().orders
    return order.number


def _run_statuses(stack: Stack, inbox: Inbox) -> statuses.StatusReport:
    report = statuses.StatusReport()
    statuses.from_inbox(inbox, stack.warehouse, stack.ledger, "test", report)
    statuses.poll(stack.warehouse, stack.ledger, "test", report)
    return report


@pytest.mark.parametrize("forged", ["Despatched", "Cancelled"])
def test_a_forged_callback_does_not_set_the_status(stack: Stack, forged: str) -> None:
    number = _injected(stack)
    inbox = Inbox(stack.data_dir / "inbox")
    params = {"number": number, "modified": "2026-10-01T09:30:00", "status": forged}
    inbox.write("peoplevox", {"event": "SalesOrderStatusChanges", "params": params})
    report = _run_statuses(stack, inbox)
    assert report.from_callbacks == 1
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT state, pvx_status FROM orders").fetchall() == [("in_warehouse", "New")]
    assert stack.ledger.list_open_exceptions() == []


def test_a_genuine_callback_is_read_from_peoplevox(stack: Stack) -> None:
    number = _injected(stack)
    stack.pvx.force_status(number, "Allocated")
    inbox = Inbox(stack.data_dir / "inbox")
    # The callback carries an unfilled status placeholder: only its number is used.
    params = {"number": number, "modified": "2026-10-01T09:31:00", "status": "{SalesOrderStatu.Name}"}
    inbox.write("peoplevox", {"event": "SalesOrderStatusChanges", "params": params})
    report = statuses.StatusReport()
    statuses.from_inbox(inbox, stack.warehouse, stack.ledger, "test", report)
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT pvx_status FROM orders").fetchall() == [("Allocated",)]


def _cancelled_in_shopify(stack: Stack) -> None:
    [order] = stack.shop.state()["orders"]
    stack.shop.cancel_order(order["id"], CancelSpec())
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    release(stack.source, stack.warehouse, stack.ledger, stack.rules, "test", datetime.now(UTC))


def test_a_tenant_where_only_people_cancel_gets_an_exception_for_cx(stack: Stack) -> None:
    _injected(stack)
    stack.pvx.configure(cancel_by_import=False)
    _cancelled_in_shopify(stack)
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT state, change_pending FROM orders").fetchall() == [("in_warehouse", False)]
    [problem] = stack.ledger.list_open_exceptions()
    assert (problem.kind, problem.owner) == ("change_failed", "cx")
    assert "refused to cancel" in problem.message
    assert stack.pvx.state().orders[0].status == "New"


def test_a_cancel_is_recorded_only_as_peoplevox_reports_it(stack: Stack) -> None:
    _injected(stack)
    _cancelled_in_shopify(stack)
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT state, pvx_status FROM orders").fetchall() == [
            ("cancelled_in_warehouse", "Cancelled")
        ]
    assert stack.ledger.list_open_exceptions() == []


def test_an_unknown_status_is_recorded_and_is_past_the_cutoff(stack: Stack) -> None:
    number = _injected(stack)
    stack.pvx.configure(reported_statuses={"Allocated": "Awaiting stock"})
    stack.pvx.force_status(number, "Allocated")
    _run_statuses(stack, Inbox(stack.data_dir / "inbox"))
    with stack.ledger.transaction() as con:
        assert con.execute("SELECT pvx_status FROM orders").fetchall() == [("Awaiting stock",)]
    _cancelled_in_shopify(stack)
    [problem] = stack.ledger.list_open_exceptions()
    assert problem.kind == "change_after_cutoff" and "unknown ('Awaiting stock')" in problem.message
    assert stack.pvx.state().orders[0].status == "Allocated"  # nothing was pushed
