"""Peoplevox requests per flow and per template or report, from the sandbox's counters.

Every flow draws on one Peoplevox limiter (requests per window, per tenant), and a report read is
one request per page, so which flow's reads spend the budget is what decides the orders flow's
ceiling. Pure: plain counts in, plain figures out.
"""

from __future__ import annotations

from collections.abc import Mapping

# Which flow reads or writes each template and report (the sandbox keys its counts
# "<operation> <name>"). Authenticate names none: it is every flow's session, shared.
FLOW_OF_NAME: dict[str, str] = {
    "sales orders": "orders",
    "sales order items": "orders",
    "sales order summary": "orders",
    "customers": "orders",
    "despatch summary": "despatches",
    "despatch package summary": "despatches",
    "despatches": "despatches",
    "despatch packages": "despatches",
    "item inventory summary": "stock",
    "item types": "stock",
    "return summary": "finance",
}
FLOWS: tuple[str, ...] = ("orders", "despatches", "stock", "finance", "sessions", "other")


def flow_of(key: str) -> str:
    """The flow a counter key ("GetReportData Despatch summary", "Authenticate") belongs to."""
    _, _, name = key.partition(" ")
    if not name:
        return "sessions"
    return FLOW_OF_NAME.get(name.strip().lower(), "other")


def by_flow(by_name: Mapping[str, int], capacity: float) -> dict[str, dict[str, float | int | None]]:
    """Requests per flow, and each flow's share of what the limiter allowed over the peak
    (`capacity`: requests per second × seconds). Flows with no requests are left out."""
    totals: dict[str, int] = {}
    for key, n in by_name.items():
        if n:
            flow = flow_of(key)
            totals[flow] = totals.get(flow, 0) + n
    return {
        flow: {
            "requests": totals[flow],
            "share_of_limiter": round(totals[flow] / capacity, 3) if capacity else None,
        }
        for flow in FLOWS
        if flow in totals
    }
