"""`inbox/rejected.jsonl`: what the receiver refused, bounded however hard it is flooded.

A flood of forged requests must neither fill the disk nor erase the record of what was refused:

- **Repeats are counted, not written.** The first refusal of a kind (source, HTTP status,
  reason) in a window of `window_seconds` is written at once with its details; further ones in
  the same window only bump a counter, written as one summary line
  (`{"repeated": N, "first_at", "last_at", …}`) when the window closes. A million forged
  webhooks a minute cost a few lines a minute, and every refusal is still counted.
- **The file rotates.** Past `max_bytes` it becomes `rejected.jsonl.1` (the older ones shift up
  to `.keep`), so the total stays under `(keep + 1) × max_bytes` even for many distinct reasons.
- **Attacker-controlled text is cut** to `MAX_FIELD_CHARS` per field, so one line stays small.

Counters are held in memory between flushes: the receiver flushes expired windows on every
refusal and every `window_seconds` in the background, and all of them when it stops.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_MODE = 0o600
MAX_FIELD_CHARS = 200


@dataclass
class _Window:
    started: float
    last_at: float
    repeats: int = 0
    sample: dict[str, Any] = field(default_factory=dict)


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_FIELD_CHARS:
        return value[:MAX_FIELD_CHARS] + f"…(+{len(value) - MAX_FIELD_CHARS} chars)"
    return value


class RejectionLog:
    def __init__(
        self,
        path: Path,
        window_seconds: float = 10.0,
        max_bytes: int = 5 * 1024 * 1024,
        keep: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.window_seconds = window_seconds
        self.max_bytes = max_bytes
        self.keep = keep
        self._clock = clock
        self._windows: dict[tuple[str, int, str], _Window] = {}
        self._lock = threading.Lock()

    def record(self, source: str, status: int, reason: str, detail: dict[str, Any]) -> bool:
        """Note one refusal: written now (True) if the first of its kind in the window, else counted."""
        now = self._clock()
        key = (source, status, reason)
        line = {"at": now, "source": source, "status": status, "reason": reason}
        line.update({k: _short(v) for k, v in detail.items() if k not in line})
        with self._lock:
            lines = self._expired(now)
            window = self._windows.get(key)
            if window is None:
                self._windows[key] = _Window(started=now, last_at=now, sample=line)
                lines.append(line)
            else:
                window.repeats += 1
                window.last_at = now
            self._write(lines)
        return window is None

    def flush(self, everything: bool = False) -> None:
        """Write the counts of closed windows (all of them when `everything`, e.g. at shutdown)."""
        with self._lock:
            self._write(self._expired(float("inf") if everything else self._clock()))

    def _expired(self, now: float) -> list[dict[str, Any]]:
        lines = []
        for key, window in list(self._windows.items()):
            if now - window.started >= self.window_seconds:
                del self._windows[key]
                if window.repeats:
                    lines.append(
                        {
                            **window.sample,
                            "at": window.last_at,
                            "repeated": window.repeats,
                            "first_at": window.started,
                            "last_at": window.last_at,
                        }
                    )
        return lines

    def _write(self, lines: list[dict[str, Any]]) -> None:
        if not lines:
            return
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = "".join(json.dumps(line, ensure_ascii=True) + "\n" for line in lines)
        fd = os.open(self.path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, FILE_MODE)
        try:
            os.write(fd, data.encode("ascii"))
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def files(self) -> list[Path]:
        """The log and its rotated copies, newest first."""
        rotated = [self.path.with_name(f"{self.path.name}.{n}") for n in range(1, self.keep + 1)]
        return [p for p in (self.path, *rotated) if p.exists()]

    def count_since(self, cutoff: float) -> int:
        """How many requests were refused at or after `cutoff` (epoch seconds), repeats included.

        Reads the log and its rotated copies; a line cut short (a crash mid-write) is skipped."""
        total = 0
        for path in self.files():
            with path.open(encoding="utf-8", errors="replace") as handle:
                for raw in handle:
                    try:
                        entry = json.loads(raw)
                    except json.JSONDecodeError:
                        continue
                    if isinstance(entry, dict) and float(entry.get("at", 0)) >= cutoff:
                        total += int(entry.get("repeated", 1))
        return total
