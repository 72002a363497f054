"""The `Retry-After` HTTP header, as both clients read it when a service asks them to wait."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait: delta-seconds (Shopify sends "2.0") or an HTTP date; never negative.

    None when the header is absent or unreadable, so the caller falls back to its own wait.
    """
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
