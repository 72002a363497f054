"""Whether another step waits for a pool a running step holds, from Dagster's own pool records.

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
