"""Review 10: a SaveData answer is classified (session error? limit refusal?) from its Detail text,
and a partial save's Detail carries the rows' error messages, which quote the rows' values. A value
that happens to contain the words the client looks for turned a partial save into something else.
And the shared session file's temporary, written through a link planted at its name."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxError
from sync_pipeline.sandbox.peoplevox.config import SAVE_RESULT_SHAPES
from sync_pipeline_tests.peoplevox.conftest import Sandbox, seed_catalogue


def _saves(sandbox: Sandbox) -> int:
    return sandbox.control.state().counters.requests.get("SaveData", 0)


def test_a_refused_row_quoting_throttle_is_not_a_limit_refusal(sandbox: Sandbox) -> None:
    """Review 10 (fixed): a partial save whose refused row quotes a SKU such as THROTTLE-BODY-01
    ('Item type ... does not exist') was taken for a limit refusal (the Detail matched 'throttl'),
    resent 6 times a window apart, then given up as PeoplevoxUnavailable though its good row was
    saved."""
    seed_catalogue(sandbox.control, items=1)  # SKU-1
    with sandbox.client(window_seconds=0.2) as pvx:
        assert pvx.save_data("Sales orders", [{"SalesOrderNumber": "SO-1"}]).ok
        before = _saves(sandbox)
        rows = [
            {"SalesOrderNumber": "SO-1", "ItemCode": "SKU-1", "QuantityOrdered": "1", "Line": "1"},
            {"SalesOrderNumber": "SO-1", "ItemCode": "THROTTLE-BODY-01", "QuantityOrdered": "1", "Line": "2"},
        ]
        result = pvx.save_data("Sales order items", rows)
        assert [r.ok for r in result.rows] == [True, False]
        assert _saves(sandbox) - before == 1  # one request: the partial save is not resent
        assert pvx.limit_refusals == 0


def test_a_refused_row_quoting_a_session_error_is_not_a_session_error(sandbox: Sandbox) -> None:
    """Review 10 (fixed): any Detail containing 'Security - Invalid Session' was a session error,
    so such a partial save was resent twice with two Authenticates, then raised as
    PeoplevoxSessionError though its good row was saved."""
    seed_catalogue(sandbox.control, items=1)
    with sandbox.client() as pvx:
        assert pvx.save_data("Sales orders", [{"SalesOrderNumber": "SO-1"}]).ok
        before = _saves(sandbox)
        rows = [
            {"SalesOrderNumber": "SO-1", "ItemCode": "SKU-1", "QuantityOrdered": "1", "Line": "1"},
            {
                "SalesOrderNumber": "SO-1",
                "ItemCode": "System : Security - Invalid Session",
                "QuantityOrdered": "1",
                "Line": "2",
            },
        ]
        result = pvx.save_data("Sales order items", rows)
        assert [r.ok for r in result.rows] == [True, False]
        assert _saves(sandbox) - before == 1
        assert (pvx.authentications, pvx.reauthentications) == (1, 0)


def test_a_real_session_error_on_a_save_is_still_renewed(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    """What held: the service's own session error (no rows done) still renews and resends once."""
    seed_catalogue(sandbox.control, items=1)
    assert client.save_data("Sales orders", [{"SalesOrderNumber": "SO-1"}]).ok
    sandbox.control.expire_sessions()
    row = {"SalesOrderNumber": "SO-1", "ItemCode": "SKU-1", "QuantityOrdered": "1", "Line": "1"}
    assert client.save_data("Sales order items", [row]).ok
    assert client.reauthentications == 1


@pytest.mark.parametrize("shape", SAVE_RESULT_SHAPES)
def test_a_save_whose_only_row_quotes_throttle_is_refused_once_whatever_the_shape(
    sandbox: Sandbox, shape: str
) -> None:
    """Nothing saved and, in some shapes, no statuses: only the quoting tells the row's message
    from the service's refusal of the whole request."""
    seed_catalogue(sandbox.control, items=1)
    sandbox.control.configure(save_result_shape=shape)
    with sandbox.client(window_seconds=0.2) as pvx:
        assert pvx.save_data("Sales orders", [{"SalesOrderNumber": "SO-1"}]).ok
        before = _saves(sandbox)
        row = {
            "SalesOrderNumber": "SO-1",
            "ItemCode": "THROTTLE-BODY-01",
            "QuantityOrdered": "1",
            "Line": "1",
        }
        if shape == "no_statuses":  # no verdict per row: the request's refusal (save_isolating's cue)
            with pytest.raises(PeoplevoxError, match="THROTTLE-BODY-01"):
                pvx.save_data("Sales order items", [row])
        else:
            assert [r.ok for r in pvx.save_data("Sales order items", [row]).rows] == [False]
        assert _saves(sandbox) - before == 1 and pvx.limit_refusals == 0


def test_a_link_planted_at_the_session_files_temporary_name_is_not_written_through(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Review 10 (fixed): the session was written to a temporary of a predictable name (file, pid,
    thread) opened without O_EXCL, following a symbolic link planted there: anyone who can write
    to the data directory could have the session id written into a file of their choosing."""
    path = tmp_path / "peoplevox-sandbox.session.json"
    victim = tmp_path / "elsewhere.txt"
    victim.write_text("kept")
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.symlink_to(victim)
    with sandbox.client(session_file=path) as pvx:
        pvx.get_data("Item types")
    assert victim.read_text() == "kept"
    assert path.exists() and not path.is_symlink()
    assert json.loads(path.read_text())["session_id"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("shape", [s for s in SAVE_RESULT_SHAPES if s != "positional"])
def test_a_saved_row_whose_address_was_neutralised_is_confirmed_by_the_lookup(
    sandbox: Sandbox, shape: str
) -> None:
    """Review 10 (fixed): an answer not in the assumed shape is settled by looking the rows up
    (`save_results.confirm_by_lookup`), and `same_value` stripped apostrophes from the value
    Peoplevox holds but not from the one sent. An address line translate neutralised for
    spreadsheets ('- Flat 3' → "'- Flat 3") was saved, then judged refused: the ledger would
    call refused an order Peoplevox holds."""
    sandbox.control.configure(save_result_shape=shape)
    rows = [
        {"SalesOrderNumber": "SO-1", "ShippingAddressLine1": "'- Flat 3", "ServiceType": "Standard"},
        {"SalesOrderNumber": "SO-2", "ShippingAddressLine1": "1 High St", "ServiceType": "No such service"},
    ]
    with sandbox.client() as pvx:
        result = pvx.save_data("Sales orders", rows)
    assert [o.number for o in sandbox.control.state().orders] == ["SO-1"]
    assert [r.ok for r in result.rows] == [True, False]
