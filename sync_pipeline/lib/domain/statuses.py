"""Peoplevox sales-order statuses and the order in which an order passes through them.

Only the statuses the flow reasons about are modelled. Anything else Peoplevox reports
(`Closed`, a partial-despatch flag, a tenant-specific name) is treated as *unknown*, and an
unknown status is always treated as past any cut-off: when we cannot tell where the order
is, we must not change it automatically.
"""

from __future__ import annotations

from enum import StrEnum


class PeoplevoxStatus(StrEnum):
    NEW = "New"
    ALLOCATED = "Allocated"
    PICKING = "Picking"
    PACKED = "Packed"
    DESPATCHED = "Despatched"
    CANCELLED = "Cancelled"


# Warehouse progress, earliest first. Cancelled is terminal and ranks after everything, so
# "before the cut-off" is never true for a cancelled order, whatever the cut-off.
_RANK: dict[PeoplevoxStatus, int] = {
    PeoplevoxStatus.NEW: 0,
    PeoplevoxStatus.ALLOCATED: 1,
    PeoplevoxStatus.PICKING: 2,
    PeoplevoxStatus.PACKED: 3,
    PeoplevoxStatus.DESPATCHED: 4,
    PeoplevoxStatus.CANCELLED: 5,
}

# Statuses an order moves through; a cut-off must be one of these (Cancelled is not a stage).
PROGRESS_STATUSES: tuple[PeoplevoxStatus, ...] = (
    PeoplevoxStatus.NEW,
    PeoplevoxStatus.ALLOCATED,
    PeoplevoxStatus.PICKING,
    PeoplevoxStatus.PACKED,
    PeoplevoxStatus.DESPATCHED,
)


def parse_status(value: str | PeoplevoxStatus | None) -> PeoplevoxStatus | None:
    """The known status for a Peoplevox status name (case and surrounding space ignored), else None."""
    if value is None:
        return None
    if isinstance(value, PeoplevoxStatus):
        return value
    wanted = value.strip().casefold()
    for status in PeoplevoxStatus:
        if status.value.casefold() == wanted:
            return status
    return None


def status_rank(status: PeoplevoxStatus) -> int:
    return _RANK[status]
