"""Sensor logic without Dagster: when to launch a run, from the inbox and run metadata.

Kept apart from `sensors.py` so the rules (batch per run, never one run per order) are plain
functions with plain tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

# Polling is the truth: even with no webhook, Shopify is polled at least this often.
INGEST_POLL_SECONDS = 60
# Held orders are re-checked and lost work picked up at least this often.
RELEASE_SAFETY_SECONDS = 300
# Release runs in flight at most: one releasing, the next starting up beside it for what the first
# will leave (the `peoplevox_orders` pool still lets one release step work at a time).
RELEASE_RUNS_IN_FLIGHT = 2
# A run takes about this long to start up at a peak (13-26 s, session 11's rehearsal): the second
# run is asked for when what it will release comes due within this, so it is ready by then.
RELEASE_START_UP_SECONDS = 15.0


@dataclass(frozen=True)
class InboxCursor:
    last_item: str | None = None
    requested_at: float = 0.0

    @classmethod
    def parse(cls, raw: str | None) -> InboxCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(data.get("last_item"), float(data.get("requested_at", 0.0)))

    def dump(self) -> str:
        return json.dumps({"last_item": self.last_item, "requested_at": self.requested_at})


def earliest_due(*isos: str | None) -> str | None:
    """The earliest of the ISO times given (None and "" ignored), as given."""
    known = [iso for iso in isos if iso]
    return min(known, key=_aware) if known else None


def _aware(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def due_for_next_release(now: datetime, due_iso: str | None) -> bool:
    """A second release run is worth starting beside the one in flight: the earliest order recorded
    since that one started comes due within a start-up of now, so the new run is ready for it."""
    return bool(due_iso) and _aware(due_iso).timestamp() <= now.timestamp() + RELEASE_START_UP_SECONDS


def release_reasons(
    now: datetime,
    next_due_iso: str | None,
    pending_changes: int,
    outcome_unknown: int,
    seconds_since_last_release: float | None,
) -> list[str]:
    """Why a release run is needed now (empty: not needed)."""
    reasons = []
    if next_due_iso:
        due = datetime.fromisoformat(next_due_iso)
        if due.tzinfo is None:
            due = due.replace(tzinfo=now.tzinfo)
        if due <= now:
            reasons.append(f"orders due since {due.isoformat()}")
    if pending_changes:
        reasons.append(f"{pending_changes} change(s) to push")
    if outcome_unknown:
        reasons.append(f"{outcome_unknown} injection(s) to confirm")
    if seconds_since_last_release is None or seconds_since_last_release >= RELEASE_SAFETY_SECONDS:
        reasons.append("periodic safety run")
    return reasons
