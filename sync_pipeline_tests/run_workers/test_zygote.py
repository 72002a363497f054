"""The warm process and its launcher's plumbing, without a daemon: a failing exit report does not
stop launches, a replaced zygote finishes the launch in hand, a moved file is a code change, a
fork failure is the run's and not the zygote's, and a run cancelled before its worker started
ends cancelled, not failed (which run retries would run again)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.run_workers import launcher as launcher_module
from sync_pipeline.run_workers.launcher import WarmRunLauncher, Zygote, ZygoteRetired, package_fingerprint
from sync_pipeline.run_workers.worker import execute_run
from sync_pipeline_tests.instances import run_instance

TINY_DEFS = """
import dagster as dg

@dg.op
def noop() -> None:
    pass

@dg.job
def noop_job() -> None:
    noop()

defs = dg.Definitions(jobs=[noop_job])
"""


@pytest.fixture
def tiny_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    package = tmp_path / "tinyzyg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "defs.py").write_text(TINY_DEFS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), *sys.path]))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "tinyzyg.defs:defs"


def _stop(zygote: Zygote) -> None:
    zygote.retire()
    zygote.process.wait(timeout=30)


def test_a_failing_exit_report_neither_loses_the_next_launch_nor_stops_the_reader(tiny_package: str) -> None:
    reports: list[tuple[str | None, int, int]] = []
    attempts = {"n": 0}

    def on_exit(run_id: str | None, pid: int, status: int) -> None:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise RuntimeError("database is locked")  # the instance's storage, busy
        reports.append((run_id, pid, status))

    zygote = Zygote(tiny_package, on_exit, None)
    try:
        # No such run in any instance: the worker fails at once (exit code 1) and is reported.
        first = zygote.fork("no-such-run-1", "not an instance ref")
        deadline = time.monotonic() + 30
        while not reports and time.monotonic() < deadline:
            time.sleep(0.1)
        assert reports == [("no-such-run-1", first, 1)]  # reported on its second attempt
        second = zygote.fork("no-such-run-2", "not an instance ref")
        assert second != first
    finally:
        _stop(zygote)


def test_a_retired_zygote_finishes_the_launch_in_hand_and_refuses_new_ones(tiny_package: str) -> None:
    zygote = Zygote(tiny_package, lambda *_: None, None)
    try:
        assert zygote.ready.wait(60)
        forked: list[int] = []
        launching = threading.Thread(target=lambda: forked.append(zygote.fork("r1", "x")))
        launching.start()
        zygote.retire()
        launching.join(30)
        assert len(forked) == 1 and forked[0] > 0
        with pytest.raises(ZygoteRetired):
            zygote.fork("r2", "x")
    finally:
        _stop(zygote)
    assert zygote.process.returncode == 0  # it exited once its workers had


def test_a_moved_or_renamed_file_is_a_code_change(tiny_package: str, tmp_path: Path) -> None:
    before = package_fingerprint("tinyzyg")
    assert before is not None and package_fingerprint("tinyzyg") == before
    sub = tmp_path / "tinyzyg" / "sub"
    sub.mkdir()
    os.rename(tmp_path / "tinyzyg" / "defs.py", sub / "defs.py")  # same size, same mtime
    moved = package_fingerprint("tinyzyg")
    os.rename(sub / "defs.py", sub / "other.py")
    assert len({before, moved, package_fingerprint("tinyzyg")}) == 3


def test_a_fork_that_fails_fails_that_launch_and_not_the_zygote(monkeypatch: pytest.MonkeyPatch) -> None:
    from sync_pipeline.run_workers import zygote as zygote_module

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    requests, ignored = os.pipe()
    replies_read, replies = os.pipe()
    monkeypatch.setattr(zygote_module.os, "fork", no_fork)
    server = zygote_module.Zygote(requests, replies)
    server.start({"run_id": "r1", "instance_ref": "x"})  # returns: the zygote goes on serving
    reply = json.loads(os.read(replies_read, 65536).decode().splitlines()[0])
    assert reply["run_id"] == "r1" and reply["pid"] is None and "fork failed" in reply["error"]
    assert server.workers == {}
    for fd in (requests, ignored, replies_read, replies, server.wake_read, server.wake_write):
        os.close(fd)


def _job_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    @dg.op
    def nothing() -> None:
        pass

    @dg.job
    def cancelled_job() -> None:
        nothing()

    return instance.create_run_for_job(cancelled_job, status=dg.DagsterRunStatus.STARTING)


def test_a_run_cancelled_before_its_worker_started_ends_cancelled() -> None:
    from dagster._serdes import serialize_value

    with run_instance() as instance:
        run = _job_run(instance)
        instance.report_run_canceling(run)
        # The worker, started after the cancel: it names itself, sees the cancel, ends the run.
        assert execute_run(run.run_id, serialize_value(instance.get_ref())) == 0
        after = instance.get_run_by_id(run.run_id)
        assert after is not None and after.status == dg.DagsterRunStatus.CANCELED
        assert launcher_module.WORKER_TAG in after.tags

        # A worker that died before it could look: its exit report ends the run cancelled too.
        other = _job_run(instance)
        instance.report_run_canceling(other)
        launcher = WarmRunLauncher()
        launcher.register_instance(instance)
        launcher._worker_exited(other.run_id, 4242, -9)
        ended = instance.get_run_by_id(other.run_id)
        assert ended is not None and ended.status == dg.DagsterRunStatus.CANCELED


WARMED_RUN = """
import json, os, sys, time
from alembic.script import ScriptDirectory
import dagster as dg
from dagster._core.storage.sql import get_alembic_config
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from sync_pipeline.run_workers.zygote import warm

head = ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__)).as_revision_number("head")
warm("tinyzyg.defs:defs")
import tinyzyg.defs
warmed = sorted(m for m in ("pandas", "httpcore", "upath") if m in sys.modules)
threads = len(os.listdir("/proc/self/task"))  # one: the zygote forks, and a fork copies one thread
began = time.process_time()
with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    ok = tinyzyg.defs.defs.get_job_def("noop_job").execute_in_process(instance=instance).success
    stamped = instance.event_log_storage.get_event_records(
        dg.EventRecordsFilter(event_type=dg.DagsterEventType.RUN_SUCCESS)
    )
print(json.dumps({
    "head": head, "ok": ok, "events": len(stamped), "warmed": warmed, "threads": threads,
    "built": type(tinyzyg.defs.defs).__name__,
    "same_scripts": ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))
    is ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__)),
}))
"""


def test_a_warmed_process_keeps_its_definitions_first_uses_and_migration_heads(
    tiny_package: str, tmp_path: Path
) -> None:
    """What `warm` does before forking, in a process of its own (it changes Alembic for that
    process): the lazy definitions are replaced by what they built, the modules runs imported on
    first use are imported, and a new instance and a run's own event log file are still created and
    stamped with Alembic's head (read once) and work."""
    package = Path(tiny_package.split(".")[0])
    (tmp_path / package / "defs.py").write_text(
        TINY_DEFS.replace(
            "defs = dg.Definitions(jobs=[noop_job])",
            "@dg.definitions\ndef defs():\n    return dg.Definitions(jobs=[noop_job])",
        )
    )
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", WARMED_RUN, str(home)], capture_output=True, text=True, timeout=180,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["ok"] and found["events"] == 1
    assert found["built"] == "Definitions" and found["same_scripts"]
    assert found["warmed"] == ["httpcore", "pandas", "upath"]
    assert found["threads"] == 1
    # Every SQLite file the instance made is at Alembic's head (a new run's file included).
    stamped = set()
    for db in home.rglob("*.db"):
        with sqlite3.connect(db) as con:
            if con.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
                stamped.update(r[0] for r in con.execute("SELECT version_num FROM alembic_version"))
    assert stamped == {found["head"]}


def test_the_warm_process_reads_the_business_rules_and_starts_whatever_they_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once in the warm process, the rules are kept by every worker forked from it while no
    byte of them changes; rules that cannot be read must not stop the warm process."""
    import shutil

    from sync_pipeline.lib.domain.config import loader
    from sync_pipeline.run_workers import zygote

    config = tmp_path / "config"
    shutil.copytree(Path(__file__).resolve().parents[2] / "data" / "config", config)
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(config))
    monkeypatch.setattr(loader, "_READ", {})
    zygote._read_business_rules()
    assert str(config) in loader._READ
    (config / "routing.yaml").write_text("sites: [\n", encoding="utf-8")
    monkeypatch.setattr(loader, "_READ", {})
    zygote._read_business_rules()  # no exception
    assert loader._READ == {}
