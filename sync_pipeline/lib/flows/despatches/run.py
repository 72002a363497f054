"""The fulfil step, in this order:

1. **In doubt first.** Fulfilments left `sending` are looked up in Shopify; found → recorded,
   not found → planned again. Nothing is created twice.
2. **Plan and fulfil** every open package, order by order (`plan`, `fulfil`).
3. **Late tracking** goes onto fulfilments created without it.
"""

from __future__ import annotations

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches.fulfil import MAX_SECONDS, fulfil_open_packages
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
    max_seconds: float = MAX_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
) -> FulfilReport:
    report = FulfilReport()
    resolve_in_doubt(storefront, ledger, rules, actor, report, settle_seconds)
    fulfil_open_packages(storefront, ledger, rules, actor, report, max_seconds, settle_seconds)
    post_late_tracking(storefront, ledger, rules, actor, report)
    return report
