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
