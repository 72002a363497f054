"""Backfills read Shopify in a pool of their own, so live flows never queue behind them.

A pool belongs to an op, not to a run: one `shopify/orders` op in the live pool made a backfill
(minutes of bulk operation or pages) hold the slot live ingest needs, and ingest waited behind it.
So an asset a backfill re-reads is a small graph (`shopify_reads`): `read_mode` (no pool) picks the
live read (the flow's own pool, `shopify_orders` or `shopify_finance`) or the backfill read
(`shopify_backfill`, dagster.yaml's `default_limit` of 1), and the other is skipped; `recorded`
puts the read's metadata on the materialisation. A live run's first step needs no pool, so the run
queue starts it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg

from sync_pipeline.defs import brand

# What every read gets from `context.resources` (the definitions bind them).
RESOURCES = {"shopify", "ledger", "business_rules"}


def is_backfill(context: dg.OpExecutionContext) -> bool:
    """A run the UI's backfill launched, or one tagged `sync/mode: backfill` (a ranged re-read)."""
    return "dagster/backfill" in context.run.tags or context.run.tags.get("sync/mode") == "backfill"


def shopify_reads(
    prefix: str,
    read: Callable[[Any, bool], dict],
    live_pool: str,
    before_live: Callable[[Any], dict] | None = None,
) -> Callable[[], Any]:
    """The body of a graph asset whose Shopify read is `read(context, backfill)` (its resources
    from `context.resources`; it returns the materialisation's metadata): `<prefix>_read_mode`,
    then `<prefix>_read_live` (in `live_pool`, the flow's own) or `<prefix>_read_backfill`
    (`shopify_backfill`),
    then `<prefix>_recorded`. `before_live(context)`, when given, is a live run's step before the
    live read, in no pool (`<prefix>_from_webhooks`: work that needs no Shopify call); its
    figures join the materialisation's metadata."""

    @dg.op(
        name=f"{prefix}_read_mode",
        out={
            "live": dg.Out(dg.Nothing, is_required=False),
            "backfill": dg.Out(dg.Nothing, is_required=False),
        },
    )
    def read_mode(context) -> Iterator[dg.Output]:
        """Live read or backfill read: the other step is skipped."""
        yield dg.Output(None, "backfill" if is_backfill(context) else "live")

    def read_op(name: str, pool: str, backfill: bool) -> dg.OpDefinition:
        @dg.op(
            name=name,
            ins={"go": dg.In(dg.Nothing)},
            pool=pool,
            retry_policy=brand.RETRY,
            required_resource_keys=RESOURCES,
        )
        def read_op_(context) -> dict:
            return read(context, backfill)

        return read_op_

    live = read_op(f"{prefix}_read_live", live_pool, backfill=False)
    backfill = read_op(f"{prefix}_read_backfill", brand.SHOPIFY_BACKFILL, backfill=True)

    @dg.op(name=f"{prefix}_recorded", out=dg.Out(dg.Nothing))
    def recorded(reads: list[dict]) -> Iterator[dg.Output]:
        """The read that ran (and the step before a live one): their figures become the
        materialisation's metadata."""
        yield dg.Output(None, metadata={k: v for figures in reads for k, v in figures.items()})

    if before_live is None:

        def compose() -> Any:
            go_live, go_backfill = read_mode()
            return recorded([live(go_live), backfill(go_backfill)])

        return compose

    @dg.op(
        name=f"{prefix}_from_webhooks",
        ins={"go": dg.In(dg.Nothing)},
        out={"figures": dg.Out(dict), "done": dg.Out(dg.Nothing)},
        retry_policy=brand.RETRY,
        required_resource_keys=RESOURCES,
    )
    def before(context) -> Iterator[dg.Output]:
        """What a live run does before its Shopify read, holding no pool slot."""
        assert before_live is not None
        yield dg.Output(before_live(context), "figures")
        yield dg.Output(None, "done")

    def compose_before() -> Any:
        go_live, go_backfill = read_mode()
        figures, done = before(go_live)
        return recorded([figures, live(done), backfill(go_backfill)])

    return compose_before
