"""A warm run worker's tag names host, pid and start time; a reused pid is not the worker."""

from __future__ import annotations

import os
from pathlib import Path

from sync_pipeline.run_workers.identity import WorkerId, is_alive, started_ticks, this_host


def test_a_tag_round_trips_and_foreign_text_is_not_a_worker() -> None:
    worker = WorkerId("host-a.example", 4242, 98765)
    assert WorkerId.parse(worker.tag()) == worker
    assert WorkerId.parse("a/b/c/4242/98765") == WorkerId("a/b/c", 4242, 98765)
    for foreign in ("", "4242", "host/4242", "host/x/1", "/4242/1", "host/4242/1x"):
        assert WorkerId.parse(foreign) is None


def test_alive_means_the_same_process_on_this_host(tmp_path: Path) -> None:
    me = WorkerId(this_host(), os.getpid(), started_ticks(os.getpid()) or -1)
    assert is_alive(me, this_host()) is True
    # The same pid started at another time is another process (the kernel reused the pid).
    assert is_alive(WorkerId(me.host, me.pid, me.started_ticks + 1), this_host()) is False
    assert is_alive(me, "another-host") is None
    # A zombie (exited, not reaped) is gone.
    (tmp_path / "77").mkdir()
    (tmp_path / "77" / "stat").write_text("77 (python) Z 1 77 77 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 500 0 0")
    assert started_ticks(77, tmp_path) is None
    assert started_ticks(78, tmp_path) is None
