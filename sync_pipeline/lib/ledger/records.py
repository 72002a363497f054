"""Plain records that cross the ledger boundary (no SQL, no DuckDB types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sync_pipeline.lib.domain.exception_catalogue import check_record


def utcnow() -> datetime:
    """Naive UTC: the ledger stores UTC in TIMESTAMP columns (no zone conversion surprises)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def gid_number(gid: str) -> int:
    """The numeric tail of a Shopify gid (`gid://shopify/Order/123` → 123): finance tables join on it."""
    tail = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    if not tail.isdigit():
        raise ValueError(f"not a Shopify gid with a numeric id: {gid!r}")
    return int(tail)


@dataclass(frozen=True)
class OrderEvent:
    """One transition in an order's life, for the append-only audit log."""

    shopify_order_id: str
    kind: str
    actor: str
    reason: str | None = None
    detail: dict[str, Any] | None = None
    at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class ExceptionRecord:
    """Something stuck that a person owns: what, why, who."""

    kind: str
    owner: str
    message: str
    shopify_order_id: str | None = None
    sales_order_number: str | None = None
    subject: str = ""
    detail: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # Fails loudly for a kind nobody registered (no owner, no runbook entry) or a wrong owner.
        check_record(self.kind, self.owner)


@dataclass(frozen=True)
class OpenException:
    exception_id: int
    kind: str
    owner: str
    message: str
    shopify_order_id: str | None
    sales_order_number: str | None
    subject: str
    opened_at: datetime
    last_seen_at: datetime
    occurrences: int
