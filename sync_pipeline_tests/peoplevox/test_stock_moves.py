"""Stock movements in the warehouse simulator, seen over HTTP as the stock flow sees them:
the Item inventory summary, AvailabilityChanges callbacks and the bad-feed fault."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from sync_pipeline.lib.peoplevox import ItemInventorySummaryRow, clauses
from sync_pipeline.sandbox.peoplevox.control import ControlError
from sync_pipeline_tests.peoplevox.conftest import Receiver, Sandbox


def _available(sandbox: Sandbox) -> dict[tuple[str, str], int]:
    with sandbox.client() as client:
        return {
            (r.item_code, r.site_reference or ""): r.available
            for r in client.iter_models(ItemInventorySummaryRow)
        }


def _seed(sandbox: Sandbox) -> None:
    sandbox.control.seed_items([("A", "5000000000001", "A"), ("B", "5000000000002", "B")])
    sandbox.control.set_stock([("A", "PrimarySite", 10), ("B", "PrimarySite", 4)])


def _callbacks(receiver: Receiver) -> list[tuple[str, str]]:
    found = []
    for call in receiver.calls:
        params = parse_qs(urlparse("?" + call["query"]).query)
        found.append((params["item"][0], params["available"][0]))
    return found


def test_counts_write_offs_and_graded_returns_move_availability_and_call_back(
    sandbox: Sandbox, receiver: Receiver
) -> None:
    _seed(sandbox)
    with sandbox.client() as client:
        client.subscribe_event(
            "AvailabilityChanges", f"{receiver.url}/cb?item={{ItemCode}}&available={{Available}}"
        )
    control = sandbox.control
    assert control.count_stock("A", "PrimarySite", 7) == -3
    assert control.write_off("A", "PrimarySite", 2, "Missing at pick") == -2
    control.goods_in("B", "PrimarySite", 6)
    assert _available(sandbox)[("A", "PrimarySite")] == 5
    assert _available(sandbox)[("B", "PrimarySite")] == 10
    # A count that changes nothing raises nothing.
    control.count_stock("B", "PrimarySite", 10)
    control.flush_events()
    assert _callbacks(receiver) == [("A", "7"), ("A", "5"), ("B", "10")]
    with pytest.raises(ControlError, match="cannot write off"):
        control.write_off("A", "PrimarySite", 99)


def test_returns_graded_not_reusable_are_quarantined_and_off_sale(sandbox: Sandbox) -> None:
    _seed(sandbox)
    control = sandbox.control
    with sandbox.client() as client:
        client.save_data("Sales orders", [{"SalesOrderNumber": "SO1", "Customer": "Ada"}])
        client.save_data(
            "Sales order items",
            [{"SalesOrderNumber": "SO1", "ItemCode": "A", "QuantityOrdered": 3, "Line": "1"}],
        )
    control.force_status("SO1", "Despatched")
    control.process_return("SO1", "A", 1, "Too small", reusable=True)
    control.process_return("SO1", "A", 2, "Torn", reusable=False)
    assert _available(sandbox)[("A", "PrimarySite")] == 8  # 10 − 3 despatched + 1 back on the shelf
    level = control.state().stock_of("A", "PrimarySite")
    assert level is not None and (level.returns, level.quarantined) == (1, 2)
    assert level.seeded + level.goods_in + level.returns + level.adjusted - level.despatched == level.on_hand
    with sandbox.client() as client:
        rows = list(client.iter_report_data("Return summary"))
    assert [r["Return condition"] for r in rows] == ["Reusable", "Not reusable"]


def test_bad_feed_answers_zero_or_nothing_while_the_floor_keeps_its_stock(sandbox: Sandbox) -> None:
    _seed(sandbox)
    sandbox.control.set_faults(inventory_feed="zero")
    zeros = _available(sandbox)
    assert zeros and set(zeros.values()) == {0}
    sandbox.control.set_faults(inventory_feed="empty")
    with sandbox.client() as client:
        assert list(client.iter_models(ItemInventorySummaryRow)) == []
        one = clauses.report_column_equals("Item code", "A")
        assert list(client.iter_models(ItemInventorySummaryRow, one)) == []
    sandbox.control.clear_faults()
    assert _available(sandbox)[("A", "PrimarySite")] == 10
    assert sandbox.control.state().counters.faults_injected["inventory_feed_empty"] == 2
