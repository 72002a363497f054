"""Whether another step waits for a pool a running step holds, from Dagster's own pool records;
and steps left waiting beside a free slot, given it.

A step that holds a pool slot can use this to keep to its time budget only when someone needs the
slot (the fulfil step, `lib/flows/despatches/run.py`, "Running on"). A waiting step is one Dagster
has queued for the pool and not yet given a slot (`assigned_timestamp` unset); the running step's
own claim is never counted. Asked once per batch of work, so one small query each time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dagster as dg

log = logging.getLogger(__name__)


def others_waiting(instance: dg.DagsterInstance, pool: str, run_id: str) -> Callable[[], bool] | None:
    """A check that is True while a step of another run waits for `pool`; None when the instance
    keeps no pool records (no global concurrency: nobody can tell, so keep to the budget)."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None

    def waiting() -> bool:
        try:
            info = storage.get_concurrency_info(pool)
        except Exception:  # the instance's database hiccuped: assume someone waits (the safe side)
            log.warning("could not read pool %s; keeping to the time budget", pool, exc_info=True)
            return True
        return any(s.assigned_timestamp is None and s.run_id != run_id for s in info.pending_steps)

    return waiting


def stranded_steps(instance: dg.DagsterInstance, pools: tuple[str, ...]) -> set[str]:
    """Steps waiting unassigned for a pool that has a slot nobody is assigned ("pool|run|step")."""
    storage = instance.event_log_storage
    found: set[str] = set()
    if not storage.supports_global_concurrency_limits:
        return found
    for pool in pools:
        try:
            info = storage.get_concurrency_info(pool)
        except Exception:  # an unknown pool, or the database hiccuped: the next tick looks again
            log.warning("could not read pool %s", pool, exc_info=True)
            continue
        assigned = sum(1 for s in info.pending_steps if s.assigned_timestamp is not None)
        if info.slot_count > assigned:
            found |= {
                f"{pool}|{s.run_id}|{s.step_key}" for s in info.pending_steps if s.assigned_timestamp is None
            }
    return found


def give_stranded_slots(
    instance: dg.DagsterInstance, pools: tuple[str, ...], seen_before: set[str]
) -> tuple[list[str], set[str]]:
    """Give a free slot of `pools` to a step stranded beside it, if it was already stranded at the
    last look (`seen_before`); returns what was given ("pool: run/step") and the steps stranded now.

    Why: Dagster queues a step for a pool (`claim_concurrency_slot`) by first asking whether a
    slot is unassigned and then adding the step to the queue, assigned only if that answer was
    yes; a step that frees a slot between the two hands it to a queue the new step is not in yet.
    The new step then waits beside a free slot until some other step of that pool frees one,
    which after a burst may be never: in session 19's rehearsal a stock run's last check waited
    5 minutes for the `duckdb` pool with its one slot free.

    Never one step too many: the step is assigned by one UPDATE whose own condition is that fewer
    steps are assigned than the pool has slots (a review showed that reading the pool and then
    calling Dagster's `assign_pending_steps` could assign a slot Dagster had just given to a new
    claim, and that on SQLite two assigned steps can then both claim the one slot). One UPDATE is
    atomic on SQLite, the embedded storage; on Postgres a claim committed in the same instant could
    still be missed, as Dagster's own claim can. Only steps stranded at two looks (15 s apart) are
    touched, so Dagster's own hand-off, a moment after a free, is never raced.
    """
    storage = instance.event_log_storage
    now = stranded_steps(instance, pools)
    if not hasattr(storage, "index_connection"):
        return [], now
    given: list[str] = []
    for key in sorted(now & seen_before):
        pool, run_id, step_key = key.split("|", 2)
        try:
            if _assign_if_a_slot_is_free(storage, pool, run_id, step_key):
                given.append(f"{pool}: {run_id}/{step_key}")
                now.discard(key)
        except Exception:  # the database was busy: the next tick looks again
            log.warning("could not give pool %s a waiting step", pool, exc_info=True)
    return given, now


def _assign_if_a_slot_is_free(storage: object, pool: str, run_id: str, step_key: str) -> bool:
    import sqlalchemy as db
    from dagster._core.storage.event_log.schema import ConcurrencySlotsTable, PendingStepsTable

    pending = PendingStepsTable.c
    assigned = (
        db.select(db.func.count())
        .select_from(PendingStepsTable)
        .where(db.and_(pending.concurrency_key == pool, pending.assigned_timestamp.isnot(None)))
        .scalar_subquery()
    )
    slots = (
        db.select(db.func.count())
        .select_from(ConcurrencySlotsTable)
        .where(
            db.and_(ConcurrencySlotsTable.c.concurrency_key == pool, ConcurrencySlotsTable.c.deleted == False)  # noqa: E712
        )
        .scalar_subquery()
    )
    update = (
        PendingStepsTable.update()
        .where(
            db.and_(
                pending.concurrency_key == pool,
                pending.run_id == run_id,
                pending.step_key == step_key,
                pending.assigned_timestamp.is_(None),
                assigned < slots,
            )
        )
        .values(assigned_timestamp=db.func.now())
    )
    with storage.index_connection() as conn:  # type: ignore[attr-defined]
        return conn.execute(update).rowcount == 1
