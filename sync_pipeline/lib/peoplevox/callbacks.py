"""Peoplevox event callbacks: the query strings we subscribe with, and how to read what arrives.

Peoplevox fills `{Placeholder}` tokens in a subscription's callback URL (API.md §9). Only the
placeholders a client that ran against the live service used are confirmed (finerylondon/
peep_conn), so these layouts use nothing else. A tenant that does not know a placeholder
most likely sends it back as written, so a value that is still `{Name}` means "not filled";
`unfilled` names those parameters and `filled` drops them.

A callback is a nudge, not a record: treat it as "this order / this item changed" and read
the rest from Peoplevox. In particular an availability callback names no site (there is no
confirmed site placeholder) and the status name's placeholder is spelled as in the only
source (`SalesOrderStatu.Name`, doubtful), so the status it carries is a hint at best.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sync_pipeline.lib.inbox import Inbox

_UNFILLED = re.compile(r"\{[A-Za-z0-9_.]+\}")


@dataclass(frozen=True)
class CallbackLayout:
    event: str
    # (our query parameter, the Peoplevox placeholder that fills it), in URL order.
    params: tuple[tuple[str, str], ...]
    # Parameters that together name one change; a repeat with all of them filled is a duplicate.
    # Empty: the same values can legitimately recur (availability 5 → 4 → 5), so never dedupe.
    identity: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        return "&".join(f"{name}={{{placeholder}}}" for name, placeholder in self.params)


# Parameter names the flows read.
ORDER_NUMBER, MODIFIED_AT, STATUS = "number", "modified", "status"
DESPATCH_ORDER, DESPATCH_NUMBER, TRACKING_NUMBER, CARRIER_NUMBER, SERVICE_CODE = (
    "order",
    "despatch",
    "tracking",
    "carrier_number",
    "service",
)
ITEM_CODE, AVAILABLE = "item", "available"

SALES_ORDER_STATUS = CallbackLayout(
    "SalesOrderStatusChanges",
    (
        (ORDER_NUMBER, "SalesOrderNumber"),
        (MODIFIED_AT, "LastModificationTime"),
        (STATUS, "SalesOrderStatu.Name"),  # sic: the only source's spelling
    ),
    # The status too: the time has whole seconds and two moves can share one.
    identity=(ORDER_NUMBER, MODIFIED_AT, STATUS),
)
TRACKING_NUMBER_RECEIVED = CallbackLayout(
    "TrackingNumberReceived",
    (
        (DESPATCH_ORDER, "Picks.SalesOrder.SalesOrderNumber"),
        (DESPATCH_NUMBER, "DespatchNumber"),
        (TRACKING_NUMBER, "TrackingNumber"),
        # What Carrier.Number holds (a number? a name?) is unknown: read the carrier from the
        # Despatch summary report, never from here.
        (CARRIER_NUMBER, "Carrier.Number"),
        (SERVICE_CODE, "ServiceType.Code"),
    ),
    identity=(DESPATCH_NUMBER, TRACKING_NUMBER),
)
AVAILABILITY_CHANGES = CallbackLayout(
    "AvailabilityChanges",
    ((ITEM_CODE, "ItemCode"), (AVAILABLE, "Available")),
)

# The callbacks `sync-pipeline subscribe` registers.
SUBSCRIBED: dict[str, CallbackLayout] = {
    layout.event: layout for layout in (SALES_ORDER_STATUS, TRACKING_NUMBER_RECEIVED, AVAILABILITY_CHANGES)
}


def unfilled(params: Mapping[str, str]) -> list[str]:
    """Parameters whose value is still a literal `{Placeholder}`: the tenant did not fill them."""
    return sorted(name for name, value in params.items() if _UNFILLED.fullmatch(value.strip()))


def filled(params: Mapping[str, str]) -> dict[str, str]:
    """The parameters Peoplevox filled in (blank values kept: blank is a real answer)."""
    skip = set(unfilled(params))
    return {name: value for name, value in params.items() if name not in skip}


def dedupe_key(event: str, params: Mapping[str, str]) -> str | None:
    """A key naming this change, or None when the callback cannot be told from a new change."""
    layout = SUBSCRIBED.get(event)
    if layout is None or not layout.identity:
        return None
    values = filled(params)
    if any(not values.get(name) for name in layout.identity):
        return None
    return json.dumps([event, *(values[name] for name in layout.identity)])


@dataclass(frozen=True)
class Named:
    """What callbacks of one event named in one parameter, read from the inbox since a cursor."""

    names: list[str]  # in arrival order, repeats kept (stripped, never blank)
    unnamed: int  # callbacks of the event whose parameter came back blank or unfilled
    last_item: str | None  # the inbox item to move the cursor to; None: nothing arrived


def names_since(inbox: Inbox, layout: CallbackLayout, param: str, after: str | None, limit: int) -> Named:
    """The values of `param` in `layout.event` callbacks after inbox item `after` (file reads only).

    A callback file pruned (or half-gone) between the listing and the read is skipped, not fatal:
    a callback is only a nudge, and every flow's own periodic read covers what it would have named.
    """
    arrived = inbox.since("peoplevox", after=after, limit=limit)
    names: list[str] = []
    unnamed = 0
    for item in arrived:
        try:
            event = item.load()
        except (OSError, ValueError):
            continue
        if event.get("event") != layout.event:
            continue
        value = filled(event.get("params") or {}).get(param)
        if isinstance(value, str) and value.strip():
            names.append(value.strip())
        else:
            unnamed += 1
    return Named(names, unnamed, arrived[-1].name if arrived else None)
