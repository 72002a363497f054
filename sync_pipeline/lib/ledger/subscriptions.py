"""Webhook and Peoplevox event subscriptions we created (Peoplevox cannot list them).

`target` is the callback URL with any secret token already redacted by the caller: the
ledger never holds a secret.
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


def record(
    con: duckdb.DuckDBPyConnection, system: str, topic: str, subscription_id: str, target: str
) -> None:
    """Remember one subscription; recording the same id again changes nothing."""
    con.execute(
        "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?) ON CONFLICT (system, subscription_id) DO NOTHING",
        [system, topic, str(subscription_id), target, utcnow()],
    )


def list_all(con: duckdb.DuckDBPyConnection) -> list[SubscriptionRow]:
    rows = con.execute(
        "SELECT system, topic, subscription_id, target, created_at FROM subscriptions "
        "ORDER BY system, topic, created_at"
    ).fetchall()
    return [SubscriptionRow(*row) for row in rows]
