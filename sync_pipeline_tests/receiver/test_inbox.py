"""The inbox: atomic, ordered, deduplicated, and pruned after its retention."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sync_pipeline.lib.inbox import Inbox


def test_events_come_back_in_arrival_order_after_a_cursor(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    written = [inbox.write("shopify", {"n": n}) for n in range(5)]
    assert [i.load()["n"] for i in inbox.since("shopify")] == [0, 1, 2, 3, 4]
    assert [i.load()["n"] for i in inbox.since("shopify", after=written[2].name)] == [3, 4]
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path / "shopify"))


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown inbox source"):
        Inbox(tmp_path).write("ebay", {})


def test_prune_removes_only_what_is_past_retention(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    old = inbox.write("peoplevox", {"n": 1}, dedupe_key="a")
    assert old is not None
    week_ago = time.time() - 7 * 24 * 3600
    os.utime(old.path, (week_ago, week_ago))
    for marker in (tmp_path / "peoplevox" / ".seen").iterdir():
        os.utime(marker, (week_ago, week_ago))
    inbox.write("peoplevox", {"n": 2}, dedupe_key="b")
    assert inbox.prune("peoplevox", older_than_seconds=3 * 24 * 3600) == 2
    assert [i.load()["n"] for i in inbox.since("peoplevox")] == [2]
    assert inbox.write("peoplevox", {"n": 3}, dedupe_key="b") is None  # recent marker kept


def test_inbox_files_are_owner_only(tmp_path: Path) -> None:
    """Events carry names, addresses and phone numbers: 0600 files in 0700 directories."""
    old_umask = os.umask(0o022)  # the usual default, which would leave files world-readable
    try:
        inbox = Inbox(tmp_path / "inbox")
        item = inbox.write("shopify", {"n": 1}, dedupe_key="webhook:1")
        inbox.record_rejection("shopify", "bad HMAC signature", {"topic": "orders/paid"})
    finally:
        os.umask(old_umask)
    assert item is not None

    def mode(path: Path) -> int:
        return path.stat().st_mode & 0o777

    [marker] = (tmp_path / "inbox" / "shopify" / ".seen").iterdir()
    assert mode(item.path) == 0o600
    assert mode(marker) == 0o600
    assert mode(tmp_path / "inbox" / "rejected.jsonl") == 0o600
    for directory in ("inbox", "inbox/shopify", "inbox/shopify/.seen"):
        assert mode(tmp_path / directory) == 0o700, directory


def test_a_failed_write_leaves_no_marker_so_the_retry_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox(tmp_path)
    real_replace = os.replace

    def disk_full(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space left"):
        inbox.write("shopify", {"n": 1}, dedupe_key="webhook:1")
    monkeypatch.setattr(os, "replace", real_replace)
    retried = inbox.write("shopify", {"n": 1}, dedupe_key="webhook:1")
    assert retried is not None and retried.load() == {"n": 1}
    assert inbox.write("shopify", {"n": 1}, dedupe_key="webhook:1") is None  # now a real duplicate
    assert [name for name in os.listdir(tmp_path / "shopify") if name.endswith(".tmp")] == []


def test_an_event_written_after_the_clock_steps_back_still_sorts_after_the_cursor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: names used the wall clock alone, so after a step back a new event sorted before
    the consumers' cursor and was skipped until the next poll."""
    clock = iter([2_000_000_000_000_000_000, 1_000_000_000_000_000_000, 1_000_000_000_000_000_001])
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: next(clock))
    inbox = Inbox(tmp_path)
    first = inbox.write("shopify", {"n": 1})
    assert first is not None
    second = inbox.write("shopify", {"n": 2})  # the clock stepped back a long way
    restarted = Inbox(tmp_path).write("shopify", {"n": 3})  # and a new process starts
    assert [item.load()["n"] for item in inbox.since("shopify", after=first.name)] == [2, 3]
    assert second is not None and restarted is not None and first.name < second.name < restarted.name
