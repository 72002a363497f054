"""The fulfil step, in this order:

1. **In doubt first.** Fulfilments left `sending` are looked up in Shopify; found → recorded,
   not found → planned again. Nothing is created twice.
2. **Plan and fulfil** every open package, order by order (`plan`, `fulfil`).
3. **Late tracking** goes onto fulfilments created without it.

The step holds the `shopify_api` pool, which the orders ingest needs too, so all three share one
time budget (`fulfil_max_seconds`): past it, each stops starting new work (each does at least one
unit, so a run always makes progress) and the report says `caught_up=False`, so the sensor starts
the next run at once, after whatever else waits for the pool.
"""

from __future__ import annotations

import time

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches.fulfil import fulfil_open_packages
from sync_pipeline.lib.flows.despatches.in_doubt import SETTLE_SECONDS, resolve_in_doubt
from sync_pipeline.lib.flows.despatches.ports import Storefront
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.tracking import post_late_tracking
from sync_pipeline.lib.ledger import Ledger


def fulfil(
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    max_seconds: float | None = None,
    settle_seconds: float = SETTLE_SECONDS,
) -> FulfilReport:
    """`max_seconds`: the step's time budget (None: `fulfil_max_seconds` from despatches.yaml)."""
    report = FulfilReport()
    budget = rules.despatches.fulfil_max_seconds if max_seconds is None else max_seconds
    deadline = time.monotonic() + budget
    doubts_done = resolve_in_doubt(storefront, ledger, rules, actor, report, settle_seconds, deadline)
    fulfil_open_packages(storefront, ledger, rules, actor, report, deadline, settle_seconds)
    tracking_done = post_late_tracking(storefront, ledger, rules, actor, report, deadline)
    # A package put back to `pending` (budget, or Shopify throttling it) wants the next run now.
    report.caught_up = report.caught_up and doubts_done and tracking_done and not report.left_for_next_run
    return report
