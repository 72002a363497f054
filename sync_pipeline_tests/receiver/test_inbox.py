"""The inbox: atomic, ordered, deduplicated, and pruned after its retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from sync_pipeline.lib.inbox import BUCKET_NS, SEEN_PRUNE_EVERY_SECONDS, Inbox


def test_events_come_back_in_arrival_order_after_a_cursor(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    written = [inbox.write("shopify", {"n": n}) for n in range(5)]
    assert [i.load()["n"] for i in inbox.since("shopify")] == [0, 1, 2, 3, 4]
    assert [i.load()["n"] for i in inbox.since("shopify", after=written[2].name)] == [3, 4]
    assert not any(name.endswith(".tmp") for name in os.listdir(tmp_path / "shopify"))


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown inbox source"):
        Inbox(tmp_path).write("ebay", {})


def test_prune_removes_only_what_is_past_retention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox = Inbox(tmp_path)
    week_ago = time.time() - 7 * 24 * 3600
    with monkeypatch.context() as past:  # an event that arrived a week ago (its name says when)
        past.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: int(week_ago * 1e9))
        old = inbox.write("peoplevox", {"n": 1}, dedupe_key="a")
    assert old is not None
    for marker in (tmp_path / "peoplevox" / ".seen").iterdir():
        os.utime(marker, (week_ago, week_ago))
    inbox.write("peoplevox", {"n": 2}, dedupe_key="b")
    assert inbox.prune("peoplevox", older_than_seconds=3 * 24 * 3600) == 2
    assert [i.load()["n"] for i in inbox.since("peoplevox")] == [2]
    assert not old.path.parent.exists()  # its bucket went with it
    assert inbox.write("peoplevox", {"n": 3}, dedupe_key="b") is None  # recent marker kept


def test_events_read_across_buckets_and_an_earlier_versions_flat_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events are kept in 100-s buckets; a read after a cursor lists the buckets from the cursor's
    on, in name order with events an earlier version wrote flat, and stops at `limit`."""
    base = 1_800_000_000 * 10**9
    flat = tmp_path / "shopify"
    flat.mkdir(parents=True)
    legacy = [f"{base + n:020d}-legacy{n}.json" for n in range(2)]  # as the flat inbox named them
    for n, name in enumerate(legacy):
        (flat / name).write_text(json.dumps({"n": f"flat{n}"}), encoding="utf-8")
    clock = iter(base + step * BUCKET_NS // 2 for step in range(1, 100))  # two events a bucket
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: next(clock))
    inbox = Inbox(tmp_path)
    written = [inbox.write("shopify", {"n": n}) for n in range(7)]
    assert all(item is not None for item in written)
    everything = inbox.since("shopify")
    assert [i.load()["n"] for i in everything] == ["flat0", "flat1", 0, 1, 2, 3, 4, 5, 6]
    assert len({i.path.parent for i in everything[2:]}) == 4 and everything[0].path.parent == flat
    after = written[2].name  # type: ignore[union-attr]
    assert [i.load()["n"] for i in inbox.since("shopify", after=after)] == [3, 4, 5, 6]
    assert [i.load()["n"] for i in inbox.since("shopify", after=after, limit=2)] == [3, 4]
    assert [i.load()["n"] for i in inbox.since("shopify", after=legacy[0], limit=3)] == ["flat1", 0, 1]
    assert inbox.last_arrival("shopify") == _stamp(written[-1].name) / 1e9  # type: ignore[union-attr]
    # A new process names its first event after the newest one kept, whatever its clock says.
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: base)
    later = Inbox(tmp_path).write("shopify", {"n": 7})
    assert later is not None and later.name > written[-1].name  # type: ignore[union-attr]


def test_prune_keeps_a_bucket_partly_inside_the_retention_and_looks_at_markers_hourly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    retention = 3600.0
    now = time.time_ns()
    cutoff = now - int(retention * 1e9)
    inbox = Inbox(tmp_path)
    stamps = iter([cutoff - 2 * BUCKET_NS, cutoff - 1, now])
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: next(stamps, now))
    gone = inbox.write("shopify", {"n": 0}, dedupe_key="k0")
    edge = inbox.write("shopify", {"n": 1}, dedupe_key="k1")  # its bucket reaches past the cutoff
    kept = inbox.write("shopify", {"n": 2}, dedupe_key="k2")
    assert gone and edge and kept
    legacy = tmp_path / "shopify" / f"{cutoff - 5:020d}-old.json"
    legacy.write_text("{}", encoding="utf-8")
    os.utime(legacy, ns=(cutoff - 5, cutoff - 5))
    markers = sorted((tmp_path / "shopify" / ".seen").iterdir())
    for marker in markers:
        os.utime(marker, ns=(cutoff - 10, cutoff - 10))
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: now)
    assert inbox.prune("shopify", retention) == 2 + 3  # the old bucket's event, the flat one, 3 markers
    assert [i.load()["n"] for i in inbox.since("shopify")] == [1, 2]
    assert inbox.write("shopify", {"n": 3}, dedupe_key="k0") is not None  # its marker went
    marker = next(p for p in (tmp_path / "shopify" / ".seen").iterdir() if not p.name.startswith("."))
    os.utime(marker, ns=(cutoff - 10, cutoff - 10))
    assert inbox.prune("shopify", retention) == 0  # markers were looked over less than an hour ago
    later = now + int(SEEN_PRUNE_EVERY_SECONDS * 1e9) + 1
    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", lambda: later)
    assert inbox.prune("shopify", retention) >= 1


def _stamp(name: str) -> int:
    return int(name[:20])


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
