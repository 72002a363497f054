"""Backfills read Shopify in a pool of their own, so live flows never queue behind them.

A pool belongs to an op, not to a run: one `shopify/orders` op in the `shopify_api` pool made a
backfill (minutes of bulk operation or pages) hold the slot every live Shopify step needs, and
ingest, fulfilments and stock pushes waited behind it. So an asset a backfill re-reads is a small
graph: `read_mode` (no pool) picks the live read (`shopify_api`) or the backfill read
(`shopify_backfill`, dagster.yaml's `default_limit` of 1), and the other is skipped; `recorded`
puts the read's metadata on the materialisation. A live run's first step needs no pool, so the
run queue starts it at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import dagster as dg


def is_backfill(context: dg.OpExecutionContext) -> bool:
    """A run the UI's backfill launched, or one tagged `sync/mode: backfill` (a ranged re-read)."""
    return "dagster/backfill" in context.run.tags or context.run.tags.get("sync/mode") == "backfill"


def read_mode_op(name: str) -> dg.OpDefinition:
    @dg.op(
        name=name,
        out={
            "live": dg.Out(dg.Nothing, is_required=False),
            "backfill": dg.Out(dg.Nothing, is_required=False),
        },
    )
    def read_mode(context) -> Iterator[dg.Output]:
        """Live read or backfill read: the other step is skipped."""
        yield dg.Output(None, "backfill" if is_backfill(context) else "live")

    return read_mode


def recorded_op(name: str) -> dg.OpDefinition:
    @dg.op(name=name, out=dg.Out(dg.Nothing))
    def recorded(reads: list[dict]) -> Iterator[dg.Output]:
        """The one read that ran: its figures become the materialisation's metadata."""
        yield dg.Output(None, metadata=reads[0])

    return recorded
