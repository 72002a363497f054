"""The inbox: webhooks and callbacks accepted by the receiver, durable before we answer.

Plain files, not the ledger: the receiver must answer Shopify within 5 s whatever the ledger is
doing, and sensors must be able to see new events without opening DuckDB. Each event is one
JSON file written atomically (temp file, fsync, rename) under `inbox/<source>/`, named so that
lexical order is arrival order. Duplicates (same Shopify webhook id, or the same Peoplevox
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

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync_pipeline.lib.rejections import RejectionLog

SOURCES = ("shopify", "peoplevox")
FILE_MODE = 0o600
DIR_MODE = 0o700


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


class Inbox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.rejections = RejectionLog(self.root / "rejected.jsonl")
        self._newest: dict[str, int] = {}  # per source: the last name stamp this process used
        self._stamp_lock = threading.Lock()

    def _stamp(self, source: str, directory: Path) -> int:
        """A name stamp after every event already in the directory, even if the clock went back.
        The caller holds `_stamp_lock` until the event is in place under that name."""
        newest = self._newest.get(source)
        if newest is None:
            stamps = (n[:20] for n in os.listdir(directory) if n.endswith(".json") and not n.startswith("."))
            newest = max((int(s) for s in stamps if s.isdigit()), default=0)
        stamp = max(time.time_ns(), newest + 1)
        self._newest[source] = stamp
        return stamp

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
                name = f"{self._stamp(source, directory):020d}-{uuid.uuid4().hex}.json"
                final = directory / name
                os.replace(tmp, final)
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
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json") and not n.startswith("."))
        if after:
            names = [n for n in names if n > after]
        if limit is not None:
            names = names[:limit]
        return [InboxItem(source, n, directory / n) for n in names]

    def last_arrival(self, source: str) -> float | None:
        """When the newest event still in the inbox arrived (epoch seconds), or None if there is none."""
        items = self.since(source)
        return int(items[-1].name[:20]) / 1e9 if items else None

    def prune(self, source: str, older_than_seconds: float) -> int:
        """Delete events and duplicate markers older than the retention; returns how many went.

        Events only accelerate the sync (polling is the truth) and are consumed within minutes,
        so a few days' retention keeps the directory listing that sensors read small.
        """
        directory = self._dir(source)
        cutoff_ns = time.time_ns() - int(older_than_seconds * 1e9)
        removed = 0
        for folder in (directory, directory / ".seen"):
            if not folder.exists():
                continue
            for entry in os.scandir(folder):
                if entry.is_file() and entry.stat().st_mtime_ns < cutoff_ns:
                    os.unlink(entry.path)
                    removed += 1
        return removed

    def record_rejection(self, source: str, reason: str, detail: dict[str, Any], status: int = 0) -> bool:
        """Note what was refused and why (never the secret), bounded: lib/rejections.py.

        True when written out now (the first of its kind in the window), False when counted."""
        _private_dir(self.root)
        return self.rejections.record(source, status, reason, detail)
