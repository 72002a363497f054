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


def give_stranded_slots(instance: dg.DagsterInstance, pools: tuple[str, ...]) -> list[str]:
    """Give each free slot of `pools` to the step that has waited longest for it; returns what was
    given ("pool: run/step"), usually nothing.

    Why: Dagster queues a step for a pool (`claim_concurrency_slot`) by first asking whether a
    slot is unassigned and then adding the step to the queue, assigned only if that answer was
    yes; a step that frees a slot between the two hands it to the queue before the new step is in
    it. The new step then waits beside a free slot until some other step of that pool frees one,
    which after a burst may be never: in session 19's rehearsal a stock run's last check waited
    5 minutes for the `duckdb` pool with its one slot free. Giving a slot one step too many is
    harmless: a claim takes a slot row as a semaphore, so the surplus step waits for the next.
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits or not hasattr(storage, "assign_pending_steps"):
        return []
    given: list[str] = []
    for pool in pools:
        try:
            info = storage.get_concurrency_info(pool)
        except Exception:  # an unknown pool, or the database hiccuped: the next tick looks again
            log.warning("could not read pool %s", pool, exc_info=True)
            continue
        waiting = sorted(
            (s for s in info.pending_steps if s.assigned_timestamp is None),
            key=lambda s: s.enqueued_timestamp,
        )
        assigned = sum(1 for s in info.pending_steps if s.assigned_timestamp is not None)
        free = info.slot_count - assigned
        for step in waiting[: max(0, free)]:
            storage.assign_pending_steps([pool])  # the longest waiting (by priority, then age)
            given.append(f"{pool}: {step.run_id}/{step.step_key}")
    return given
