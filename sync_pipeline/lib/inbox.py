"""The inbox: webhooks and callbacks accepted by the receiver, durable before we answer.

Plain files, not the ledger: the receiver must answer Shopify within 5 s whatever the ledger is
doing, and sensors must be able to see new events without opening DuckDB. Each event is one
JSON file written atomically (temp file, fsync, rename) under `inbox/<source>/<bucket>/`, named so
that lexical order is arrival order; a bucket holds 100 s of arrivals (its name is the first
digits of its events' names). Sensors read what came after their cursor every second or so: in one
flat directory that read listed and sorted every event kept (3 days of a sale: 0.4 CPU-s a read
at 200,000 events), now it lists the bucket names and the one or two buckets at the cursor.
Events written flat by an earlier version are still read, in name order with the rest, and pruned.
Duplicates (same Shopify webhook id, or the same Peoplevox
callback) are recognised by a marker file created with O_EXCL, so a retry storm writes one
event. The marker is claimed only once the event's bytes are on disk, and dropped again if the
event cannot be put in place: a marker without its event would answer the sender's retry
"duplicate ignored" and lose the event for good.

Events hold customer names, addresses and phone numbers, so every file is created 0600 and
every directory 0700 (owner only), whatever the process umask.

Names start with the wall clock in nanoseconds, but never at or below the newest name already
in the directory (read once per process, then remembered): if the clock steps back (NTP, a VM
resumed), a new event still sorts after the consumers' cursors instead of being skipped until
the next poll. A name is taken only as the event is renamed into place, under one lock, so the
receiver's threads (it stores webhooks from a thread pool) never put an event behind a name a
consumer has already read. Two receiver processes keep this order each; between them it is
arrival order as far as their clocks agree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from sync_pipeline.lib.rejections import RejectionLog

SOURCES = ("shopify", "peoplevox")
FILE_MODE = 0o600
DIR_MODE = 0o700
NAME_DIGITS = 20  # an event's name starts with its arrival stamp in ns, zero-padded
BUCKET_DIGITS = 9  # a bucket is named by its events' first 9 digits: 10**11 ns = 100 s of arrivals
BUCKET_NS = 10 ** (NAME_DIGITS - BUCKET_DIGITS)
# Duplicate markers cannot be bucketed by time (a retry comes up to 48 h later and must find its
# key in one place), so pruning them lists them all: at most once an hour, not on every prune.
SEEN_PRUNE_EVERY_SECONDS = 3600.0


def _private_dir(path: Path) -> None:
    """Create `path` (and parents) owner-only; tighten it if an older version made it wider."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        os.chmod(path, DIR_MODE)


def _open_private(path: Path, flags: int) -> int:
    # os.open's mode is masked by the umask, which can only remove bits: 0600 stays at most 0600.
    return os.open(path, flags, FILE_MODE)


@dataclass(frozen=True)
class InboxItem:
    source: str
    name: str  # sortable: <arrival ns>-<uuid>.json
    path: Path

    def load(self) -> dict[str, Any]:
        return json.loads(self.path.read_text(encoding="utf-8"))


def _is_event(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


class _Listing(NamedTuple):
    """A source directory's entries, each list sorted."""

    buckets: list[str]
    flat: list[str]  # events written flat by an earlier version
    leftovers: list[str]  # temp files a crash left between the write and the rename


def _listing(directory: Path) -> _Listing:
    found = _Listing([], [], [])
    for entry in os.scandir(directory):
        name = entry.name
        if _is_event(name):
            found.flat.append(name)
        elif name.startswith(".") and name.endswith(".tmp"):
            found.leftovers.append(name)
        elif (
            len(name) == BUCKET_DIGITS
            and name.isascii()
            and name.isdigit()
            and entry.is_dir(follow_symlinks=False)
        ):
            found.buckets.append(name)
    for names in found:
        names.sort()
    return found


def _newest_name(directory: Path) -> str | None:
    """The newest event's name in a source directory (its last non-empty bucket, or flat)."""
    buckets, flat, _ = _listing(directory)
    for bucket in reversed(buckets):
        names = _events_in(directory / bucket)
        if names:
            return max(names[-1], flat[-1]) if flat else names[-1]
    return flat[-1] if flat else None


def _events_in(bucket: Path) -> list[str]:
    try:
        return sorted(n for n in os.listdir(bucket) if _is_event(n))
    except (FileNotFoundError, NotADirectoryError):  # pruned meanwhile
        return []


def _stamp_of(name: str) -> int:
    digits = name[:NAME_DIGITS]
    return int(digits) if digits.isdigit() else 0


class Inbox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.rejections = RejectionLog(self.root / "rejected.jsonl")
        self._newest: dict[str, int] = {}  # per source: the last name stamp this process used
        self._stamp_lock = threading.Lock()
        self._buckets_made: set[Path] = set()  # under _stamp_lock

    def _stamp(self, source: str, directory: Path) -> int:
        """A name stamp after every event already in the directory, even if the clock went back.
        The caller holds `_stamp_lock` until the event is in place under that name."""
        newest = self._newest.get(source)
        if newest is None:
            newest_name = _newest_name(directory)
            newest = _stamp_of(newest_name) if newest_name else 0
        stamp = max(time.time_ns(), newest + 1)
        self._newest[source] = stamp
        return stamp

    def _bucket_for(self, directory: Path, name: str) -> Path:
        """The bucket directory an event named `name` goes in, created owner-only if new (the
        caller holds `_stamp_lock`)."""
        bucket = directory / name[:BUCKET_DIGITS]
        if bucket not in self._buckets_made:
            if not bucket.is_dir():  # pruned meanwhile, or new
                _private_dir(bucket)
            if len(self._buckets_made) > 64:
                self._buckets_made.clear()
            self._buckets_made.add(bucket)
        return bucket

    def _dir(self, source: str) -> Path:
        if source not in SOURCES:
            raise ValueError(f"unknown inbox source {source!r}; expected one of {SOURCES}")
        return self.root / source

    def _marker(self, source: str, dedupe_key: str) -> Path:
        seen = self._dir(source) / ".seen"
        _private_dir(seen)
        return seen / hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()

    @staticmethod
    def _claim(marker: Path) -> bool:
        """True the first time a key is seen; the marker survives restarts."""
        try:
            fd = _open_private(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def write(self, source: str, event: dict[str, Any], dedupe_key: str | None = None) -> InboxItem | None:
        """Persist one event; returns None when `dedupe_key` was seen before.

        Order matters: the event is fsynced to a temp file first, then the marker is claimed
        (O_EXCL, so two concurrent deliveries cannot both win), then the temp file is named and
        renamed into place under one lock (so names appear in the directory in name order). Any
        failure before the rename removes the marker and the temp file and re-raises, so the
        sender's retry is stored rather than answered as a duplicate.
        """
        directory = self._dir(source)
        _private_dir(self.root)
        _private_dir(directory)
        tmp = directory / f".{uuid.uuid4().hex}.tmp"
        # ensure_ascii: a JSON body may carry a lone surrogate escape (\udc80), which has no
        # UTF-8 form; escaped, it round-trips instead of failing the write.
        data = json.dumps(event, ensure_ascii=True).encode("ascii")
        marker = self._marker(source, dedupe_key) if dedupe_key is not None else None
        claimed = False
        try:
            fd = _open_private(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if marker is not None:
                claimed = self._claim(marker)
                if not claimed:
                    tmp.unlink()
                    return None
            # Named and put in place in one step: a name taken before the fsync could sort before an
            # event written meanwhile by another thread, which a consumer may already have read
            # and moved its cursor past; this event would then be skipped for good.
            with self._stamp_lock:
                name = f"{self._stamp(source, directory):0{NAME_DIGITS}d}-{uuid.uuid4().hex}.json"
                for attempt in range(3):
                    try:
                        final = self._bucket_for(directory, name) / name
                        os.replace(tmp, final)
                        break
                    except FileNotFoundError:  # the bucket was pruned meanwhile: once more
                        self._buckets_made.discard(directory / name[:BUCKET_DIGITS])
                        if attempt == 2 or not tmp.exists():
                            raise
        except BaseException:
            tmp.unlink(missing_ok=True)
            if claimed and marker is not None:
                marker.unlink(missing_ok=True)
            raise
        return InboxItem(source, name, final)

    def since(self, source: str, after: str | None = None, limit: int | None = None) -> list[InboxItem]:
        """Events that arrived after the event named `after` (a cursor), oldest first."""
        directory = self._dir(source)
        if not directory.exists():
            return []
        buckets, flat, _ = _listing(directory)
        # Flat events (an earlier version's) first: their names are older than any bucket's, but
        # merged by name in case one was written after (a receiver not yet upgraded).
        found = [InboxItem(source, n, directory / n) for n in flat if not after or n > after]
        from_buckets = 0
        start = after[:BUCKET_DIGITS] if after else ""
        for bucket in buckets:
            if bucket < start:
                continue
            for name in _events_in(directory / bucket):
                if not after or name > after:
                    found.append(InboxItem(source, name, directory / bucket / name))
                    from_buckets += 1
            if limit is not None and from_buckets >= limit:
                break
        found.sort(key=lambda item: item.name)
        return found if limit is None else found[:limit]

    def last_arrival(self, source: str) -> float | None:
        """When the newest event still in the inbox arrived (epoch seconds), or None if there is none."""
        directory = self._dir(source)
        newest = _newest_name(directory) if directory.exists() else None
        return _stamp_of(newest) / 1e9 if newest else None

    def prune(self, source: str, older_than_seconds: float) -> int:
        """Delete events and duplicate markers older than the retention; returns how many went.

        Events only accelerate the sync (polling is the truth) and are consumed within minutes.
        A bucket goes whole once all of it is past the retention, by its name, without a look at
        the events kept; events written flat (an earlier version) go by their modification time.
        Duplicate markers are looked over at most once an hour (`SEEN_PRUNE_EVERY_SECONDS`).
        """
        directory = self._dir(source)
        if not directory.exists():
            return 0
        now_ns = time.time_ns()
        cutoff_ns = now_ns - int(older_than_seconds * 1e9)
        removed = 0
        buckets, flat, leftovers = _listing(directory)
        for bucket in buckets:
            if (int(bucket) + 1) * BUCKET_NS > cutoff_ns:
                break  # sorted: the rest are newer
            removed += _remove_bucket(directory / bucket)
        for name in [*flat, *leftovers]:
            path = directory / name
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime_ns < cutoff_ns:
                    path.unlink()
                    removed += 1
        return removed + _prune_markers(directory / ".seen", cutoff_ns, now_ns)

    def record_rejection(self, source: str, reason: str, detail: dict[str, Any], status: int = 0) -> bool:
        """Note what was refused and why (never the secret), bounded: lib/rejections.py.

        True when written out now (the first of its kind in the window), False when counted."""
        _private_dir(self.root)
        return self.rejections.record(source, status, reason, detail)


def _remove_bucket(bucket: Path) -> int:
    removed = 0
    for entry in os.scandir(bucket):
        if not entry.is_file(follow_symlinks=False):
            continue  # not ours: left for a person to look at (the rmdir below then fails)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += entry.name.endswith(".json")
    with contextlib.suppress(OSError):  # a writer put an event in it meanwhile: next prune
        os.rmdir(bucket)
    return removed


def _prune_markers(seen: Path, cutoff_ns: int, now_ns: int) -> int:
    """Duplicate markers past the retention, if none were looked over in the last hour."""
    if not seen.exists():
        return 0
    stamp = seen / ".pruned"  # not a marker (markers are hex digests)
    with contextlib.suppress(FileNotFoundError):
        if now_ns - stamp.stat().st_mtime_ns < SEEN_PRUNE_EVERY_SECONDS * 1e9:
            return 0
    removed = 0
    for entry in os.scandir(seen):
        if entry.name.startswith("."):
            continue
        with contextlib.suppress(FileNotFoundError):
            if entry.is_file() and entry.stat().st_mtime_ns < cutoff_ns:
                os.unlink(entry.path)
                removed += 1
    os.close(_open_private(stamp, os.O_CREAT | os.O_WRONLY))
    os.utime(stamp, ns=(now_ns, now_ns))
    return removed
