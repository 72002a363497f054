"""Alerts are written down before they are sent, and removed only once every channel took them.

A channel that is down (Slack outage, a webhook receiver restarting) costs a delay, never the
alert: each try that fails moves the alert's next attempt later (1, 2, 4 … 30 minutes) and the
digest sensor, ticking every minute, sends what is due. Plain files under `data/alerts/outbox/`
(sensors never open the ledger); at-least-once: a crash between sending and removing repeats it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_pipeline.lib.alerts.channels import AlertDeliveryError, Channel
from sync_pipeline.lib.alerts.messages import Alert

MAX_BACKOFF_SECONDS = 30 * 60
# An alert nobody could deliver for this long is dropped (it is stale), with a line in failed.jsonl.
GIVE_UP_SECONDS = 3 * 24 * 3600


@dataclass
class DeliveryReport:
    sent: int = 0
    waiting: int = 0
    dropped: int = 0
    errors: list[str] = field(default_factory=list)


class AlertOutbox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.dir = self.root / "outbox"

    def put(self, alert: Alert, channels: list[str], now: float | None = None) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        now = time.time() if now is None else now
        record = {
            "alert": alert.as_json(),
            "channels": channels,
            "attempts": 0,
            "created": now,
            "next_at": now,
        }
        path = self.dir / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        self._write(path, record)
        return path

    @staticmethod
    def _write(path: Path, record: dict[str, Any]) -> None:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(record), encoding="utf-8")
        os.replace(tmp, path)

    def pending(self) -> list[Path]:
        return sorted(self.dir.glob("*.json")) if self.dir.exists() else []

    @contextlib.contextmanager
    def _sender(self) -> Iterator[bool]:
        """One sender at a time: the two alert sensors may tick together, and an alert sent by
        both would reach people twice. The other one leaves the outbox to this one."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".sending.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def deliver(self, channels: list[Channel], now: float | None = None) -> DeliveryReport:
        """Send every due alert to the channels still owed it. Never raises for a channel's failure."""
        now = time.time() if now is None else now
        with self._sender() as alone:
            if not alone:
                return DeliveryReport(waiting=len(self.pending()), errors=["another sensor is sending"])
            return self._deliver(channels, now)

    def _deliver(self, channels: list[Channel], now: float) -> DeliveryReport:
        by_name = {c.name: c for c in channels}
        report = DeliveryReport()
        for path in self.pending():
            record = json.loads(path.read_text(encoding="utf-8"))
            if record["next_at"] > now:
                report.waiting += 1
                continue
            alert = Alert(**{k: record["alert"][k] for k in ("kind", "title", "lines", "data")})
            owed = [name for name in record["channels"] if name in by_name]
            failed = []
            for name in owed:
                try:
                    by_name[name].send(alert)
                except AlertDeliveryError as error:
                    failed.append(name)
                    report.errors.append(str(error))
            if not failed:
                path.unlink()
                report.sent += 1
                continue
            if now - record["created"] > GIVE_UP_SECONDS:
                with (self.root / "failed.jsonl").open("a", encoding="utf-8") as log:
                    log.write(json.dumps({"dropped_at": now, **record}) + "\n")
                path.unlink()
                report.dropped += 1
                continue
            record["channels"] = failed
            record["attempts"] += 1
            record["next_at"] = now + min(MAX_BACKOFF_SECONDS, 60 * 2 ** (record["attempts"] - 1))
            self._write(path, record)
            report.waiting += 1
        return report
