"""Webhook and Peoplevox event subscriptions we created (Peoplevox cannot list them).

`target` is the callback URL with any secret token already redacted by the caller: the
ledger never holds a secret. A subscription replaced by a token rotation keeps its row, with
`retired_at` set once it has been unsubscribed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.ledger.records import utcnow


@dataclass(frozen=True)
class SubscriptionRow:
    system: str  # shopify | peoplevox
    topic: str
    subscription_id: str
    target: str
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


def record(
    con: duckdb.DuckDBPyConnection, system: str, topic: str, subscription_id: str, target: str
) -> None:
    """Remember one subscription; recording the same id again changes nothing."""
    con.execute(
        "INSERT INTO subscriptions (system, topic, subscription_id, target, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (system, subscription_id) DO NOTHING",
        [system, topic, str(subscription_id), target, utcnow()],
    )


def list_all(con: duckdb.DuckDBPyConnection) -> list[SubscriptionRow]:
    rows = con.execute(
        "SELECT system, topic, subscription_id, target, created_at, retired_at FROM subscriptions "
        "ORDER BY system, topic, created_at"
    ).fetchall()
    return [SubscriptionRow(*row) for row in rows]


def retire(con: duckdb.DuckDBPyConnection, system: str, subscription_id: str) -> None:
    """Mark a subscription as no longer registered (unsubscribed after a token rotation)."""
    con.execute(
        "UPDATE subscriptions SET retired_at = ? WHERE system = ? AND subscription_id = ? AND retired_at IS NULL",
        [utcnow(), system, str(subscription_id)],
    )
