"""The inbox: webhooks and callbacks accepted by the receiver, durable before we answer.

Plain files, not the ledger: the receiver must answer Shopify within 5 s whatever the ledger is
doing, and sensors must be able to see new events without opening DuckDB. Each event is one
JSON file written atomically (temp file, fsync, rename) under `inbox/<source>/`, named so that
lexical order is arrival order. Duplicates (same Shopify webhook id, or the same Peoplevox
callback) are recognised by a marker file created with O_EXCL, so a retry storm writes one
event.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCES = ("shopify", "peoplevox")


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

    def _dir(self, source: str) -> Path:
        if source not in SOURCES:
            raise ValueError(f"unknown inbox source {source!r}; expected one of {SOURCES}")
        return self.root / source

    def _claim(self, source: str, dedupe_key: str) -> bool:
        """True the first time a key is seen; the marker survives restarts."""
        seen = self._dir(source) / ".seen"
        seen.mkdir(parents=True, exist_ok=True)
        marker = seen / hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        os.close(fd)
        return True

    def write(self, source: str, event: dict[str, Any], dedupe_key: str | None = None) -> InboxItem | None:
        """Persist one event; returns None when `dedupe_key` was seen before."""
        directory = self._dir(source)
        directory.mkdir(parents=True, exist_ok=True)
        if dedupe_key is not None and not self._claim(source, dedupe_key):
            return None
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex}.json"
        tmp = directory / f".{name}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(event, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        final = directory / name
        os.replace(tmp, final)
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

    def record_rejection(self, source: str, reason: str, detail: dict[str, Any]) -> None:
        """Append a line to `rejected.jsonl`: what was refused and why (never the secret)."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"at": time.time(), "source": source, "reason": reason, **detail}, ensure_ascii=False
        )
        with open(self.root / "rejected.jsonl", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
