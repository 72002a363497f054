"""SaveData results in the assumed shape are paired by position; in any other shape the rows are
looked up, so every row still gets a verdict (and the right one) instead of an unknown outcome."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.peoplevox.save_results import SaveResult, pair_by_position, same_value
from sync_pipeline.lib.peoplevox.soap import IntegrationResponse, StatusRow
from sync_pipeline.sandbox.peoplevox.config import SAVE_RESULT_SHAPES
from sync_pipeline_tests.peoplevox.conftest import Sandbox, seed_catalogue


def _get_data_calls(sandbox: Sandbox) -> int:
    return sandbox.control.state().counters.requests.get("GetData", 0)


@pytest.mark.parametrize("shape", SAVE_RESULT_SHAPES)
def test_every_row_gets_its_true_verdict_whatever_the_shape(
    sandbox: Sandbox, client: PeoplevoxClient, shape: str
) -> None:
    seed_catalogue(sandbox.control, items=1)  # SKU-1 with barcode 500001
    sandbox.control.configure(save_result_shape=shape)
    positional = shape == "positional"

    # Inserts: the second reuses a barcode, the third has none.
    rows = [
        {"ItemCode": "NEW-1", "Barcode": "700001", "Name": "a"},
        {"ItemCode": "NEW-2", "Barcode": "500001", "Name": "b"},
        {"ItemCode": "NEW-3", "Barcode": "", "Name": "c"},
        {"ItemCode": "NEW-4", "Barcode": "700004", "Name": "d"},
    ]
    before = _get_data_calls(sandbox)
    result = client.save_data("Item types", rows)
    assert [r.ok for r in result.rows] == [True, False, False, True]
    assert "already used by item 'SKU-1'" in (result.rows[1].error or "")
    assert "Barcode is required" in (result.rows[2].error or "")
    assert bool(result.looked_up) is not positional
    assert _get_data_calls(sandbox) - before == (0 if positional else 1)

    # Updates: a cancel past the cut-off fails though the order exists.
    for number in ("SO-1", "SO-2"):
        assert client.save_data("Sales orders", [{"SalesOrderNumber": number}]).ok
        row = {"SalesOrderNumber": number, "ItemCode": "SKU-1", "QuantityOrdered": "1", "Line": "1"}
        assert client.save_data("Sales order items", [row]).ok
    sandbox.control.force_status("SO-2", "Picking")
    cancels = [{"SalesOrderNumber": n, "Status": "Cancelled"} for n in ("SO-1", "SO-2")]
    result = client.save_data("Sales orders", cancels)
    assert [r.ok for r in result.rows] == [True, False]
    assert "only be cancelled before Picking" in (result.rows[1].error or "")
    assert {o.number: o.status for o in sandbox.control.state().orders} == {
        "SO-1": "Cancelled",
        "SO-2": "Picking",
    }

    # All saved: ResponseId 0 and TotalCount = rows settle it in every shape, without a lookup.
    before = _get_data_calls(sandbox)
    assert client.save_data("Item types", [{"ItemCode": "NEW-1", "Name": "renamed"}]).ok
    assert _get_data_calls(sandbox) == before


def test_an_answer_that_does_not_add_up_is_not_paired() -> None:
    """Reordered references, counts that disagree or unexplained errors: the client looks instead."""
    rows = [{"ItemCode": "A"}, {"ItemCode": "B"}]

    def answer(statuses: list[tuple[str, str]], total: int, detail: str = "") -> IntegrationResponse:
        return IntegrationResponse(-1, total, detail, [StatusRow(r, s) for r, s in statuses])

    good = answer([("A", "Success"), ("B", "Error")], 1, "Row 2 (B): bad barcode")
    paired = pair_by_position("Item types", rows, rows, good)
    assert isinstance(paired, SaveResult) and paired.rows[1].error == "bad barcode"
    for odd in (
        answer([("B", "Success"), ("A", "Error")], 1, "Row 2 (A): bad barcode"),  # reordered
        answer([("A", "Success"), ("B", "Error")], 2, "Row 2 (B): bad barcode"),  # TotalCount disagrees
        answer([("A", "Success"), ("B", "Error")], 1, "B could not be imported"),  # other Detail
        answer([("A", "Success"), ("B", "Failed")], 1, "Row 2 (B): bad barcode"),  # unknown status
        answer([("B", "Error")], 1, "Row 2 (B): bad barcode"),  # one status for two rows
    ):
        assert isinstance(pair_by_position("Item types", rows, rows, odd), str)


def test_values_compare_as_peoplevox_would_store_them() -> None:
    assert same_value("10.50", "10.5") and same_value("3", "3.000")
    assert same_value("True", "true") and same_value("1", "True") and not same_value("True", "False")
    assert same_value("2026-10-01 10:00:00", "'01/10/2026 10:00'")
    assert same_value("Cancelled", "cancelled") and not same_value("Cancelled", "Picking")
    assert same_value("", " ") and not same_value("", "x") and not same_value("10", "10.01")
