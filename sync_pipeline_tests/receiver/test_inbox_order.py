"""The receiver stores webhooks from a thread pool, several at once: an event must never appear
in the inbox after a consumer's cursor went past its name, or every cursor reader (the body step,
the read by id, the status callbacks) skips it for good and only the poll finds the change."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from sync_pipeline.lib.inbox import Inbox


def test_an_event_still_being_written_when_a_later_one_is_read_is_not_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox(tmp_path)
    assert inbox.write("shopify", {"n": 0}) is not None
    syncing, go_on = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_disk(fd: int) -> None:
        if threading.current_thread().name == "slow-write":
            syncing.set()
            assert go_on.wait(10)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_disk)
    slow = threading.Thread(target=inbox.write, args=("shopify", {"n": 1}), name="slow-write")
    slow.start()
    try:
        assert syncing.wait(10)
        assert inbox.write("shopify", {"n": 2}) is not None  # arrives second, stored first
        first_read = inbox.since("shopify")  # a consumer reads now and moves its cursor on
    finally:
        go_on.set()
        slow.join(10)
    cursor = first_read[-1].name
    later_read = inbox.since("shopify", after=cursor)
    seen = [item.load()["n"] for item in [*first_read, *later_read]]
    assert sorted(seen) == [0, 1, 2]
