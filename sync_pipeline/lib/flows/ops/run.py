"""One pass over the open exceptions: close what has cleared, rank the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config.ops import OpsConfig
from sync_pipeline.lib.flows.ops.ranking import RankedException, rank
from sync_pipeline.lib.flows.ops.recheck import cleared
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import ops as ledger_ops


@dataclass(frozen=True)
class Closed:
    exception_id: int
    kind: str
    owner: str
    order_name: str | None
    resolution: str


@dataclass
class OpsReport:
    ranked: list[RankedException] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)


def refresh(ledger: Ledger, config: OpsConfig, now: datetime, actor: str, recheck: bool = True) -> OpsReport:
    """Re-check every open exception (closing the cleared ones, each with why) and rank the rest.

    One short transaction: every fact is in the ledger, nothing here calls an API. With
    `recheck=False` it only reads (the CLI's view), and closes nothing."""
    report = OpsReport()
    with ledger.transaction() as con:
        rows = ledger_ops.open_with_facts(con)
        if recheck:
            found = {r.exception_id: (r, why) for r in rows if (why := cleared(r)) is not None}
            done = set(
                ledger_ops.close(
                    con, [(i, f"cleared on re-check: {why}") for i, (_, why) in found.items()], actor
                )
            )
            report.closed = [
                Closed(i, r.kind, r.owner, r.order_name, f"cleared on re-check: {why}")
                for i, (r, why) in found.items()
                if i in done
            ]
            rows = [r for r in rows if r.exception_id not in done]
        skus = ledger_ops.order_skus(con, sorted({r.shopify_order_id for r in rows if r.shopify_order_id}))
        sales = ledger_ops.sku_sales(con, now - timedelta(days=config.velocity_days), config.velocity_days)
    report.ranked = rank(rows, skus, sales, config, now)
    return report
