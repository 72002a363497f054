"""How long callbacks and webhooks waited in the stand-ins' own queues before they were sent.

Both sandboxes raise an event when something happens and send it from a few sender threads; at a
rehearsal's peak (over a hundred callbacks a second on a machine the product keeps busy) the
senders fall behind, and a callback reaches the receiver late through no fault of the product.
In production that queue is Shopify's and Peoplevox's. Shown apart, so a stock or despatch latency
can be read as the stand-in's wait plus the product's own time: the goals are the product's.

Pure: the sandboxes keep each delivery's wait (`Delivery.waited` in the Peoplevox sandbox,
`waited_s` in the Shopify sandbox's delivery log).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sync_pipeline.rehearsal.stack import spread


def summary(
    peoplevox_waits: Mapping[str, list[float]], shopify_log: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Each sandbox's waits: all of them, and by event type (Peoplevox) or topic (Shopify). A
    webhook dropped by a fault, or not yet sent, has no wait and is not counted."""
    by_topic: dict[str, list[float]] = {}
    for record in shopify_log:
        waited = record.get("waited_s")
        if waited is not None and not record.get("duplicate"):
            by_topic.setdefault(str(record.get("topic")), []).append(float(waited))
    return {
        "peoplevox": _side(peoplevox_waits),
        "shopify": _side(by_topic),
    }


def _side(by_kind: Mapping[str, list[float]]) -> dict[str, Any]:
    return {
        "all": spread([w for waits in by_kind.values() for w in waits]),
        "by_kind": {kind: spread(list(waits)) for kind, waits in sorted(by_kind.items())},
    }


def markdown_lines(figures: Mapping[str, Any]) -> list[str]:
    """One line per sandbox; nothing when the run kept no waits."""
    lines = [
        "Callbacks and webhooks waiting in the stand-ins' own queues before being sent (in production"
        " Shopify's and Peoplevox's time, not the product's; a latency above includes it):"
    ]
    for side, label in (("peoplevox", "Peoplevox callbacks"), ("shopify", "Shopify webhooks")):
        figures_ = figures.get(side) or {}
        every = figures_.get("all") or {}
        if not every.get("n"):
            continue
        kinds = "; ".join(
            f"{kind} p95 {s['p95']} s (n={s['n']:,})" for kind, s in (figures_.get("by_kind") or {}).items()
        )
        lines.append(
            f"- {label}: p50 {every['p50']} s · p95 {every['p95']} s · max {every['max']} s"
            f" (n={every['n']:,}); {kinds}."
        )
    return lines if len(lines) > 1 else []
