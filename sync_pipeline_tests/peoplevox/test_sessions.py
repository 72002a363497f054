"""Session expiry (HTTP 200 + security Detail) in the middle of reads and saves; no secrets in logs."""

from __future__ import annotations

import logging
import time

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxSessionError
from sync_pipeline_tests.peoplevox.conftest import PASSWORD, Sandbox, seed_catalogue


def test_expiry_in_the_middle_of_a_multi_page_read(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    sandbox.control.seed_items([(f"I{i:03d}", f"B{i}", "x") for i in range(250)])
    rows = client.iter_data("Item types", items_per_page=100)
    got = [next(rows)["ItemCode"] for _ in range(100)]
    assert sandbox.control.expire_sessions() == 1
    got += [r["ItemCode"] for r in rows]
    assert got == [f"I{i:03d}" for i in range(250)]
    assert client.reauthentications == 1
    assert sandbox.control.state().counters.requests["Authenticate"] == 2


def test_expiry_in_the_middle_of_a_batch_of_saves(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    # Each session dies after two calls, so a five-batch save crosses several expiries.
    sandbox.control.set_faults(session_max_calls=2)
    rows = [{"ItemCode": f"S{i:03d}", "Barcode": f"B{i}", "Name": "n"} for i in range(50)]
    result = client.save_in_batches("Item types", rows, batch_size=10)
    assert result.ok and result.saved_count == 50
    assert [r.record for r in result.rows] == rows
    state = sandbox.control.state()
    assert len(state.items) == 50
    assert state.counters.save_calls["Item types"] == 5  # an expired call saves nothing and is resent once
    assert client.reauthentications >= 2


def test_idle_timeout(make_sandbox) -> None:  # type: ignore[no-untyped-def]
    with make_sandbox(session_idle_timeout=0.3) as box, box.client() as pvx:
        seed_catalogue(box.control)
        assert pvx.get_data("Item types").total_count == 3
        time.sleep(0.5)
        assert pvx.get_data("Item types").total_count == 3
        assert pvx.reauthentications == 1


def test_no_password_or_session_in_logs(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with sandbox.client() as pvx:
        pvx.get_data("Item types")
        sandbox.control.expire_sessions()
        pvx.get_data("Item types")
        session_id = pvx._session.session_id if pvx._session else ""
        text = caplog.text + repr(pvx)
    assert session_id and session_id not in text
    assert PASSWORD not in text
    with (
        PeoplevoxClient(sandbox.url, "sandbox", "integration", "bad-" + PASSWORD) as bad,
        pytest.raises(Exception) as caught,
    ):
        bad.get_data("Item types")
    assert PASSWORD not in str(caught.value)


def test_session_error_after_reauth_raises(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    client.get_data("Item types")
    sandbox.control.set_faults(session_max_calls=1)
    sandbox.control.expire_sessions()
    # New sessions allow one call; drop them right after each Authenticate by expiring all.
    original = client.authenticate

    def authenticate_then_expire() -> None:
        original()
        sandbox.control.expire_sessions()

    client.authenticate = authenticate_then_expire  # type: ignore[method-assign]
    with pytest.raises(PeoplevoxSessionError):
        client.get_data("Item types")
