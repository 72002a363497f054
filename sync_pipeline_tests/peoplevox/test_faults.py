"""Transport faults: reads retry, saves with an unknown outcome are reported, never blindly resent."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.domain.sales_order import SalesOrderHeader
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.ports import SaveOutcomeUnknownError
from sync_pipeline.lib.peoplevox import PeoplevoxFault, PeoplevoxUnavailable, SaveOutcomeUnknown
from sync_pipeline.lib.peoplevox.answers import is_server_fault as _is_server_fault
from sync_pipeline_tests.peoplevox.conftest import Sandbox

ROWS = [{"ItemCode": f"F{i}", "Barcode": f"B{i}", "Name": "n"} for i in range(3)]


def test_reads_retry_5xx(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(error_next=2, error_status=500)
        assert pvx.get_data("Item types").total_count == 0
    assert sandbox.control.state().counters.faults_injected["error_next"] == 2


def test_saves_retry_503_because_nothing_was_done(sandbox: Sandbox) -> None:
    # A 503 is taken as a limiter refusal: the client waits a window (short here) and resends.
    with sandbox.client(window_seconds=0.2) as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(error_next=2, error_status=503)
        assert pvx.save_data("Item types", ROWS).ok
    assert sandbox.control.state().counters.save_calls["Item types"] == 1


def test_save_with_500_is_unknown(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(error_next=1, error_status=500)
        with pytest.raises(SaveOutcomeUnknown) as caught:
            pvx.save_data("Item types", ROWS)
    assert caught.value.records == ROWS
    assert sandbox.control.state().counters.requests.get("SaveData", 0) == 0


def test_dropped_connection_after_save_is_unknown_and_not_resent(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(drop_after_save_next=1)
        with pytest.raises(SaveOutcomeUnknown) as caught:
            pvx.save_data("Item types", ROWS)
        assert caught.value.template == "Item types"
        # The caller looks the rows up: they were saved, exactly once.
        assert [r["ItemCode"] for r in pvx.iter_data("Item types")] == ["F0", "F1", "F2"]
    assert sandbox.control.state().counters.save_calls["Item types"] == 1


def test_timeout_after_send_is_unknown(sandbox: Sandbox) -> None:
    with sandbox.client(timeout=0.5) as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(slow_save_next=1, slow_save_seconds=1.5)
        with pytest.raises(SaveOutcomeUnknown):
            pvx.save_data("Item types", ROWS)
    assert sandbox.control.state().counters.save_calls["Item types"] == 1


def test_retries_are_capped(sandbox: Sandbox) -> None:
    with sandbox.client(max_retries=2, window_seconds=0.2) as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(error_next=10, error_status=503)
        with pytest.raises(PeoplevoxUnavailable):
            pvx.get_data("Item types")
    assert sandbox.control.state().counters.faults_injected["error_next"] == 3


def test_connection_refused_is_retried_then_unavailable() -> None:
    from sync_pipeline.lib.peoplevox import PeoplevoxClient
    from sync_pipeline.sandbox.server import free_port

    pvx = PeoplevoxClient(
        f"http://127.0.0.1:{free_port()}", "sandbox", "u", "p", max_retries=2, backoff_base=0.01
    )
    with pvx, pytest.raises(PeoplevoxUnavailable):
        pvx.get_data("Item types")
    assert pvx.requests_sent == 3


# -- soap:Server faults: how ASMX reports an unhandled server error (HTTP 500) ------------------


def test_reads_retry_soap_server_faults(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(server_fault_next=2)
        assert pvx.get_data("Item types").total_count == 0
    assert sandbox.control.state().counters.faults_injected["server_fault_next"] == 2


def test_save_with_soap_server_fault_is_unknown_never_refused(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(server_fault_next=1)
        with pytest.raises(SaveOutcomeUnknown) as caught:
            pvx.save_data("Item types", ROWS)
        assert "soap:Server" in caught.value.cause and not isinstance(caught.value, PeoplevoxFault)
    assert sandbox.control.state().counters.save_calls.get("Item types", 0) == 0


def test_save_that_faults_part_way_is_unknown_and_not_resent(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(server_fault_after_save_next=1)
        with pytest.raises(SaveOutcomeUnknown) as caught:
            pvx.save_data("Item types", ROWS)
        assert caught.value.records == ROWS
        # Two of the three rows were saved before the server failed: only a lookup can tell.
        assert [r["ItemCode"] for r in pvx.iter_data("Item types")] == ["F0", "F1"]
    assert sandbox.control.state().counters.save_calls["Item types"] == 1


def _header(number: str) -> SalesOrderHeader:
    text = {name: "" for name in SalesOrderHeader.model_fields}
    return SalesOrderHeader.model_validate(
        {
            **text,
            "SalesOrderNumber": number,
            "Customer": "C",
            "ServiceType": "Standard",
            "Site": "PrimarySite",
            "CreatedDate": "2026-10-01 10:00:00",
            "RequestedDeliveryDate": "2026-10-01 10:00:00",
            "TotalSale": "10.00",
        }
    )


def test_the_orders_port_sees_a_server_fault_on_save_as_unknown(sandbox: Sandbox) -> None:
    headers = [_header(f"SO-{i}") for i in range(4)]
    with sandbox.client() as pvx:
        warehouse = PeoplevoxWarehouse(pvx)
        pvx.authenticate()
        for fault in ("server_fault_next", "server_fault_after_save_next"):
            sandbox.control.set_faults(**{fault: 1})
            with pytest.raises(SaveOutcomeUnknownError):
                warehouse.save_headers(headers)
        assert set(warehouse.find_sales_orders([h.SalesOrderNumber for h in headers], False)) == {
            "SO-0",
            "SO-1",
        }


def test_only_server_fault_codes_count_as_server_errors() -> None:
    for code in ("soap:Server", "SOAP-ENV:Server", "Server", "soap:Server.Timeout"):
        assert _is_server_fault(code), code
    for code in ("soap:Client", "soap:VersionMismatch", "soap:MustUnderstand", "soap:ServerX", ""):
        assert not _is_server_fault(code), code
