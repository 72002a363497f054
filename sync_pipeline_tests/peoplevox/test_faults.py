"""Transport faults: reads retry, saves with an unknown outcome are reported, never blindly resent."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxUnavailable, SaveOutcomeUnknown
from sync_pipeline_tests.peoplevox.conftest import Sandbox

ROWS = [{"ItemCode": f"F{i}", "Barcode": f"B{i}", "Name": "n"} for i in range(3)]


def test_reads_retry_5xx(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(error_next=2, error_status=500)
        assert pvx.get_data("Item types").total_count == 0
    assert sandbox.control.state().counters.faults_injected["error_next"] == 2


def test_saves_retry_503_because_nothing_was_done(sandbox: Sandbox) -> None:
    with sandbox.client() as pvx:
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
    with sandbox.client(max_retries=2) as pvx:
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
