"""The bucketed inbox against hostile names, crash leftovers, an oracle for `since`, and concurrent
writers: what a review of the bucket layout tried in order to break it (session 19)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib import inbox as inbox_mod
from sync_pipeline.lib.inbox import BUCKET_DIGITS, BUCKET_NS, Inbox

DAY = 24 * 3600


# -- what the first bucket layout got wrong (each failed on it) ----------------------------------


def test_a_crash_left_tmp_file_is_pruned_like_before(tmp_path: Path) -> None:
    """A receiver killed between the temp file and the rename leaves `.<uuid>.tmp` (a customer's
    webhook body, PII) in inbox/<source>/. The flat version's prune removed every regular file
    past retention there; the bucketed prune only looks at `*.json` names, so it stays for ever."""
    inbox = Inbox(tmp_path)
    inbox.write("shopify", {"n": 1})
    leftover = tmp_path / "shopify" / ".0123456789abcdef.tmp"
    leftover.write_text('{"customer": "Jane Doe"}', encoding="utf-8")
    week_ago = time.time() - 7 * DAY
    os.utime(leftover, (week_ago, week_ago))
    inbox.prune("shopify", 3 * DAY)
    assert not leftover.exists(), "a week-old crash leftover (PII) was not pruned"


@pytest.mark.parametrize("stray", ["123456789", "000000001"])
def test_a_stray_file_named_like_a_bucket_does_not_break_the_inbox(tmp_path: Path, stray: str) -> None:
    """The flat version ignored any name not ending in .json; now a regular FILE with 9 digits is
    taken for a bucket: os.listdir/scandir raise NotADirectoryError in since(), last_arrival(),
    a new process's first write (_newest_name) and prune()."""
    Inbox(tmp_path).write("shopify", {"n": 1})
    (tmp_path / "shopify" / stray).write_text("not a bucket", encoding="utf-8")
    fresh = Inbox(tmp_path)  # e.g. the receiver after a restart
    errors = {}
    for what, call in {
        "since": lambda: fresh.since("shopify"),
        "last_arrival": lambda: fresh.last_arrival("shopify"),
        "write": lambda: fresh.write("shopify", {"n": 2}),
        "prune": lambda: fresh.prune("shopify", 3 * DAY),
    }.items():
        try:
            call()
        except OSError as error:
            errors[what] = type(error).__name__
    assert not errors, errors


def test_a_bucket_holding_a_directory_does_not_make_every_prune_fail(tmp_path: Path) -> None:
    """_remove_bucket os.unlink()s every entry: a sub-directory (an operator's copy, a tool's
    folder) raises IsADirectoryError, and orders' ingest/status assets call prune() first, so the
    asset fails every run until someone removes it."""
    inbox = Inbox(tmp_path)
    inbox.write("shopify", {"n": 1})
    odd = tmp_path / "shopify" / "000000001"  # a bucket name long past retention
    (odd / "keep").mkdir(parents=True)
    inbox.prune("shopify", 3 * DAY)


def test_a_directory_named_with_unicode_digits_does_not_break_prune(tmp_path: Path) -> None:
    """str.isdigit() is true for '²' (and Arabic-Indic digits): int('²²²²²²²²²') raises
    ValueError in prune once every ASCII bucket before it is past retention."""
    inbox = Inbox(tmp_path)
    (tmp_path / "shopify" / ("\u00b2" * BUCKET_DIGITS)).mkdir(parents=True)
    inbox.prune("shopify", 3 * DAY)


# -- invariants --------------------------------------------------------------------------------

STAMP = st.integers(min_value=1_700_000_000 * 10**9, max_value=1_700_000_000 * 10**9 + 40 * BUCKET_NS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(st.tuples(STAMP, st.booleans()), max_size=40, unique_by=lambda e: e[0]),
    after_pick=st.one_of(
        st.none(),
        st.integers(0, 60),
        STAMP.map(lambda s: f"{s:020d}"),
        st.text("0123456789-abz", max_size=25),
    ),
    limit=st.one_of(st.none(), st.integers(0, 45)),
)
def test_since_matches_the_oracle_over_flat_and_bucketed_events(
    tmp_path_factory, events, after_pick, limit
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("inbox")
    source = root / "shopify"
    source.mkdir()
    names = []
    for stamp, flat in events:
        name = f"{stamp:020d}-{stamp % 997:032x}.json"
        folder = source if flat else source / name[:BUCKET_DIGITS]
        folder.mkdir(exist_ok=True)
        (folder / name).write_text("{}", encoding="utf-8")
        names.append(name)
    # noise that must be ignored
    (source / ".seen").mkdir()
    (source / ".abc.tmp").write_text("x")
    (source / "README").write_text("x")
    if isinstance(after_pick, int):
        after = sorted(names)[after_pick] if after_pick < len(names) else None
    else:
        after = after_pick
    oracle = sorted(n for n in names if not after or n > after)
    if limit is not None:
        oracle = oracle[:limit]
    got = [i.name for i in Inbox(root).since("shopify", after=after, limit=limit)]
    assert got == oracle
    newest = max(names) if names else None
    assert Inbox(root).last_arrival("shopify") == (int(newest[:20]) / 1e9 if newest else None)


def test_concurrent_writers_and_a_reader_across_bucket_boundaries_never_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fake clock that crosses a bucket every few events and sometimes steps back; 4 writer
    threads; a reader moving its cursor to the last name it read; a pruner with 0 retention is
    NOT run (it may legitimately remove). Every event must be read exactly once."""
    base = 1_700_000_000 * 10**9
    lock = threading.Lock()
    ticks = [0]

    def clock() -> int:
        with lock:
            ticks[0] += 1
            n = ticks[0]
        jump = (n // 3) * (BUCKET_NS // 2)
        return base + jump - (BUCKET_NS if n % 17 == 0 else 0)  # sometimes a step back

    monkeypatch.setattr("sync_pipeline.lib.inbox.time.time_ns", clock)
    inbox = Inbox(tmp_path)
    per_writer, writers = 60, 4
    done = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        cursor = None
        reader_inbox = Inbox(tmp_path)
        while True:
            finished = done.is_set()
            batch = (
                reader_inbox.since("shopify", after=cursor, limit=7)
                if (tmp_path / "shopify").exists()
                else []
            )
            for item in batch:
                seen.append(item.name)
            if batch:
                cursor = batch[-1].name
            elif finished:
                return

    def writer(w: int) -> None:
        for n in range(per_writer):
            inbox.write("shopify", {"w": w, "n": n}, dedupe_key=f"{w}:{n}")

    r = threading.Thread(target=reader)
    r.start()
    ws = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in ws:
        t.start()
    for t in ws:
        t.join()
    done.set()
    r.join(30)
    assert len(seen) == len(set(seen)) == per_writer * writers
    assert seen == sorted(seen)


def test_prune_removing_the_bucket_between_mkdir_and_rename_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = Inbox(tmp_path)
    first = inbox.write("shopify", {"n": 0})
    assert first is not None
    bucket = first.path.parent
    real_replace = os.replace
    calls = [0]

    def pruned_meanwhile(src, dst):  # type: ignore[no-untyped-def]
        calls[0] += 1
        if calls[0] == 1:  # the bucket (cached as made) is removed by a prune first
            for entry in os.scandir(bucket):
                os.unlink(entry.path)
            os.rmdir(bucket)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", pruned_meanwhile)
    second = inbox.write("shopify", {"n": 1}, dedupe_key="k")
    assert second is not None and second.path.exists()
    assert second.path.parent.stat().st_mode & 0o777 == 0o700


def test_prune_removing_the_bucket_between_its_mkdir_and_chmod_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retry covers the rename only: a prune between _private_dir's mkdir and its stat makes
    the write fail (503, sender retries) instead of being retried. Severity low: in production a
    prune only removes buckets 3 days old."""
    inbox = Inbox(tmp_path)
    real_mkdir = Path.mkdir
    pruned = []

    def mkdir_then_pruned(self, *a, **k):  # type: ignore[no-untyped-def]
        real_mkdir(self, *a, **k)
        if len(self.name) == BUCKET_DIGITS and self.name.isdigit() and not pruned:
            pruned.append(self)
            os.rmdir(self)  # one prune, once

    monkeypatch.setattr(Path, "mkdir", mkdir_then_pruned)
    item = inbox.write("shopify", {"n": 1}, dedupe_key="k")
    assert item is not None


def test_buckets_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        item = Inbox(tmp_path).write("shopify", {"n": 1})
    finally:
        os.umask(old)
    assert item is not None
    assert item.path.parent.stat().st_mode & 0o777 == 0o700
    assert item.path.stat().st_mode & 0o777 == 0o600


def test_duplicate_stored_once_under_concurrency(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path)
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda: results.append(inbox.write("peoplevox", {"x": 1}, dedupe_key="same")))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert len(inbox.since("peoplevox")) == 1


def test_since_and_last_arrival_cost_with_many_buckets(tmp_path: Path) -> None:
    """3 days of 100-s buckets (2,592), most emptied; prints timings (no hard assertion)."""
    source = tmp_path / "shopify"
    base = 1_700_000_000 * 10**9
    for b in range(2592):
        bucket = source / f"{(base + b * BUCKET_NS):020d}"[:BUCKET_DIGITS]
        bucket.mkdir(parents=True)
        if b == 0:
            (bucket / f"{base:020d}-x.json").write_text("{}")
    inbox = Inbox(tmp_path)
    t0 = time.perf_counter()
    for _ in range(20):
        inbox.last_arrival("shopify")
    t1 = time.perf_counter()
    for _ in range(20):
        inbox.since("shopify", after=f"{base + 2591 * BUCKET_NS:020d}")
    t2 = time.perf_counter()
    print(f"last_arrival {1000 * (t1 - t0) / 20:.1f} ms, since(after=newest) {1000 * (t2 - t1) / 20:.1f} ms")
    _ = json, inbox_mod
