"""The hourly full reconcile: Peoplevox read, and meanwhile the push's other inputs; then the push.

The read is mostly waiting for Peoplevox's limiter, so the push's inputs that do not depend on its
figures are read on a second thread meanwhile (`prepare.py`). The push starts only once the snapshot
is recorded and judged (`take_full`): a suspect feed blocks it as before, and nothing is written to
Shopify before the breaker has seen every item.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.stock.ports import StockSource, Storefront
from sync_pipeline.lib.flows.stock.prepare import Prepared, prepare_full
from sync_pipeline.lib.flows.stock.snapshot import SnapshotReport, take_full
from sync_pipeline.lib.ledger import Ledger, stock_snapshots

log = logging.getLogger(__name__)


def snapshot_and_prepare(
    source: StockSource,
    storefront: Storefront,
    ledger: Ledger,
    rules: BusinessRules,
    now: datetime,
    run_id: str | None = None,
    partition_key: str | None = None,
) -> tuple[SnapshotReport, Prepared | None]:
    """`take_full`, with the push prepared during it. None when the snapshot was not accepted (the
    push is blocked: what was read for it would only go stale) or the preparation failed."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stock-prepare") as pool:
        preparing: Future[Prepared] = pool.submit(prepare_full, storefront, ledger, rules, now)
        snapshot = take_full(source, ledger, rules, now, run_id=run_id, partition_key=partition_key)
        try:
            prepared: Prepared | None = preparing.result()
        except Exception:
            # Only a head start: the push step reads its inputs itself (and fails there, where it
            # belongs, if Shopify is down); the snapshot stands.
            log.warning("preparing the push during the Peoplevox read failed", exc_info=True)
            prepared = None
    return snapshot, (prepared if snapshot.verdict == stock_snapshots.ACCEPTED else None)
