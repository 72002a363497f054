"""The hold window: a paid order waits before release so quick edits and cancellations never
reach the warehouse. Times must be timezone-aware; mixing naive and aware times is a bug."""

from __future__ import annotations

from datetime import datetime, timedelta


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")
    return moment


def release_due_at(paid_at: datetime, hold_seconds: int) -> datetime:
    if hold_seconds < 0:
        raise ValueError(f"hold_seconds must be 0 or more, got {hold_seconds}")
    return _aware(paid_at, "paid_at") + timedelta(seconds=hold_seconds)


def is_due_for_release(paid_at: datetime, now: datetime, hold_seconds: int) -> bool:
    return _aware(now, "now") >= release_due_at(paid_at, hold_seconds)


def is_too_old(created_at: datetime, now: datetime, max_age_days: int) -> bool:
    """Older than `orders.yaml` max_order_age_days: not sent automatically (a backfill guard)."""
    return _aware(now, "now") - _aware(created_at, "created_at") > timedelta(days=max_age_days)
