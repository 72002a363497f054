"""A tenant's session shared by its processes through a 0600 file: runs stop authenticating once
each; an expired shared session is renewed once and the call retried; the file is never trusted
when others can read it, and the id is never logged."""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import stat
from pathlib import Path

import pytest

from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxSessionError
from sync_pipeline.lib.peoplevox.session_file import session_path
from sync_pipeline_tests.peoplevox.conftest import PASSWORD, Sandbox


def _authenticates(box: Sandbox) -> int:
    return box.control.state().counters.requests.get("Authenticate", 0)


def _read_in_a_process(url: str, path: str, results: mp.Queue) -> None:  # type: ignore[name-defined]
    """A run: a process of its own with a fresh client, as a Dagster run is."""
    with PeoplevoxClient(
        url, "sandbox", "integration", "sandbox-password", 10_000, 15, session_file=Path(path)
    ) as pvx:
        pvx.get_save_template("Item types")
        results.put(pvx.authentications)


def test_runs_in_their_own_processes_authenticate_once_between_them(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "peoplevox-sandbox.session.json"
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    for _ in range(3):
        run = ctx.Process(target=_read_in_a_process, args=(sandbox.url, str(path), results))
        run.start()
        run.join(timeout=60)
        assert run.exitcode == 0
    assert [results.get(timeout=10) for _ in range(3)] == [1, 0, 0]
    assert _authenticates(sandbox) == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_file_holds_no_password_and_the_id_is_never_logged(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    path = tmp_path / "s.json"
    with sandbox.client(session_file=path) as first:
        first.get_data("Item types")
        sandbox.control.expire_sessions()
        first.get_data("Item types")  # renewed: the new id is written
        session_id = json.loads(path.read_text())["session_id"]
        text = caplog.text + repr(first) + repr(first._session) + repr(first._session_file)
    assert session_id and session_id not in text
    assert PASSWORD not in path.read_text()
    assert set(json.loads(path.read_text())) == {"endpoint", "username", "session_id", "last_used"}


def test_an_expired_shared_session_is_renewed_once_and_the_call_retried(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "s.json"
    with sandbox.client(session_file=path) as first:
        first.get_data("Item types")
    sandbox.control.expire_sessions()  # the service drops it while no run is going
    with sandbox.client(session_file=path) as second:
        assert second.get_data("Item types").total_count == 0  # taken from the file, refused, renewed
        assert (second.reauthentications, second.authentications) == (1, 1)
    with sandbox.client(session_file=path) as third:
        third.get_data("Item types")
        assert third.authentications == 0  # the renewed one, from the file
    assert _authenticates(sandbox) == 2


def test_a_session_another_process_renewed_is_taken_without_authenticating(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "s.json"
    with sandbox.client(session_file=path) as first, sandbox.client(session_file=path) as second:
        first.get_data("Item types")
        second.get_data("Item types")
        sandbox.control.expire_sessions()
        first.get_data("Item types")  # renews, and writes the new session
        second.get_data("Item types")  # refused, finds the renewed one in the file
        assert (first.authentications, second.authentications) == (2, 0)
        assert second.reauthentications == 1
    assert _authenticates(sandbox) == 2


def test_a_renewed_session_refused_again_gives_up(sandbox: Sandbox, tmp_path: Path) -> None:
    with sandbox.client(session_file=tmp_path / "s.json") as pvx:
        pvx.get_data("Item types")
        sandbox.control.set_faults(session_max_calls=1)
        sandbox.control.expire_sessions()
        original = pvx.authenticate

        def authenticate_then_expire() -> None:
            original()
            sandbox.control.expire_sessions()

        pvx.authenticate = authenticate_then_expire  # type: ignore[method-assign]
        with pytest.raises(PeoplevoxSessionError):
            pvx.get_data("Item types")
        assert pvx.authentications == 2  # the first, and one renewal: not a loop


def test_a_file_others_can_read_is_not_trusted(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with sandbox.client(session_file=path) as first:
        first.get_data("Item types")
    os.chmod(path, 0o644)
    with sandbox.client(session_file=path) as second:
        second.get_data("Item types")
        assert second.authentications == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # replaced by the new session's own file


def test_a_file_of_another_user_or_an_idle_session_is_not_taken(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    with sandbox.client(session_file=path) as first:
        first.get_data("Item types")
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "username": "someone-else"}))
    os.chmod(path, 0o600)
    with sandbox.client(session_file=path) as other_user:
        other_user.get_data("Item types")
        assert other_user.authentications == 1
    stored = json.loads(path.read_text())
    path.write_text(json.dumps({**stored, "last_used": stored["last_used"] - 1600}))  # past 25 min idle
    with sandbox.client(session_file=path) as idle:
        idle.get_data("Item types")
        assert idle.authentications == 1
    assert _authenticates(sandbox) == 3


def test_every_run_of_a_brand_shares_the_session_beside_its_pacer(tmp_path: Path) -> None:
    from sync_pipeline.defs.resources import PeoplevoxResource

    resource = PeoplevoxResource(
        base_url="http://127.0.0.1:1",
        client_id="acme/uk",
        username="u",
        password="p",
        requests_per_window=15,
        window_seconds=15,
        pacer_dir=str(tmp_path),
    )
    with resource.get_client(urgent=True) as orders, resource.get_client() as stock:
        assert orders._session_file is not None and stock._session_file is not None
        assert (
            orders._session_file.path
            == stock._session_file.path
            == tmp_path / "peoplevox-acme_uk.session.json"
        )
    assert session_path(Path("/d/pvx.json")) == Path("/d/pvx.json.session.json")
