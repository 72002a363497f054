"""Release: due orders are re-read, translated and injected into Peoplevox, exactly once.

One call handles everything that is due, in this order:
1. **In doubt first.** Injections left `sending` (a crash or a lost response) are looked up in
   Peoplevox by SalesOrderNumber: found with every item → accepted; found with items missing →
   only the missing items are sent; not found → sent again. Nothing is created twice.
2. **Re-read.** Due orders (hold window over) and held orders are read again from Shopify and
   recorded as ingest records them, so edits, refunds and cancellations made during the hold are
   judged by the same state rules before anything is sent.
3. **Translate.** Pure rules (lib/domain/translate): held orders get exceptions with owners,
   orders with nothing to ship are set aside, the rest become sales orders.
4. **Write-ahead, then inject.** Intent is recorded as `sending` in the ledger, then headers and
   items are saved in batches; per-row verdicts become `accepted` or `failed` (with
   Peoplevox's own text in an `injection_failed` exception).
5. **Changes after injection** are planned by lib/domain/cutoff and pushed before the cut-off,
   or raised as exceptions at or after it.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import OrdersSource, Warehouse
from sync_pipeline.lib.flows.orders.records import naive
from sync_pipeline.lib.flows.orders.release.changes import push_changes
from sync_pipeline.lib.flows.orders.release.in_doubt import resolve_in_doubt
from sync_pipeline.lib.flows.orders.release.inject import record_and_inject, wave_size
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.reread import reread, translate_all
from sync_pipeline.lib.flows.stock import hints
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import orders as ledger_orders

# A release run keeps releasing what comes due while it runs, up to this long, a wave at a time:
# the gap between runs (sensor tick, launch) would otherwise leave the Peoplevox limiter idle, but
# the step holds the `peoplevox_orders` pool, which status runs wait for (despatch reads have their
# own pool now; in the 1,500-a-minute rehearsal, session 6, all shared one `peoplevox_api` pool and
# a run held it 120 s plus a wave of 1,000 orders). Past the
# budget the run stops after the wave in hand; the rest stay due (nothing is written ahead that
# was not sent), `caught_up` is False and `next_release_due_at` is in the past, so the sensor
# starts the next run at its next tick, after whatever else waits for the pool.
RELEASE_RUN_SECONDS = 30.0


def release(
    source: OrdersSource,
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    now: datetime,
    limit: int | None = None,
    max_seconds: float = RELEASE_RUN_SECONDS,
) -> ReleaseReport:
    """`limit`: due orders per pass (default: one wave, `inject.wave_size`); `max_seconds`: no
    pass starts after it (the first always runs)."""
    report = ReleaseReport()
    started = time.monotonic()
    per_pass = limit or wave_size(rules.orders.injection_batch_rows)

    def moment() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    # An order whose units stop awaiting allocation has its items queued for the stock flow in
    # the transaction that records it: a run that stops later loses no hint.
    on_allocation = hints.for_orders(rules)
    resolve_in_doubt(warehouse, ledger, rules, actor, report, on_allocation)
    first_pass = True
    known_codes: set[str] = set()
    while True:
        with ledger.transaction() as con:
            due_ids = ledger_orders.ids_in_state(
                con, [state.AWAITING_RELEASE], due_before=naive(moment()), limit=per_pass
            )
            # Held orders are re-checked once a run (a fix may have landed in Peoplevox or config).
            held_ids = (
                ledger_orders.ids_in_state(con, [state.HELD], limit=200, least_recently_touched=True)
                if first_pass
                else []
            )
            known_codes = ledger_catalogue.known_item_codes(con)
            # Read with the ids, not in a transaction of their own: each one queues for the lock.
            known = ledger_orders.get_many(con, [*due_ids, *held_ids])
        candidates = [*due_ids, *held_ids]
        if not candidates:
            break
        report.due += len(due_ids)
        releasable = reread(source, ledger, rules, actor, candidates, moment(), report, known)
        translations = translate_all(releasable, warehouse, ledger, rules, known_codes)
        record_and_inject(
            releasable, translations, warehouse, ledger, rules, actor, report, set(held_ids), on_allocation
        )
        first_pass = False
        if time.monotonic() - started >= max_seconds:
            with ledger.transaction() as con:
                report.caught_up = not ledger_orders.ids_in_state(
                    con, [state.AWAITING_RELEASE], due_before=naive(moment()), limit=1
                )
            break
    push_changes(source, warehouse, ledger, rules, actor, report, known_codes, moment(), on_allocation)
    return report
