"""A sensor that gives a free pool slot to a step Dagster left waiting beside it.

It launches nothing: every 15 s it looks at this location's pools and assigns a slot that is
free while a step waits for it, once the step has waited so at two looks in a row (the cursor
holds the steps seen stranded); `pool_waiters.give_stranded_slots` says how Dagster's queue can
strand one. Without it such a step waits until another step of that pool frees a slot.
"""

from __future__ import annotations

import json

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.pool_waiters import give_stranded_slots


@dg.sensor(
    name="pools_unstranded",
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 15 s: a pool slot that is free while a step waits for it (at two looks in a row) "
    "is given to that step (Dagster's pool queue can leave a step waiting beside a free slot). Launches no runs.",
)
def pools_unstranded(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    seen_before = set(json.loads(context.cursor)) if context.cursor else set()
    given, stranded = give_stranded_slots(context.instance, brand.POOLS, seen_before)
    for what in given:
        context.log.warning("gave a free pool slot to a step left waiting beside it: %s", what)
    why = f"gave free slots to {', '.join(given)}" if given else "no step waits beside a free slot"
    if stranded and not given:
        why = f"{len(stranded)} step(s) wait beside a free slot; given one at the next look if still so"
    return dg.SensorResult(skip_reason=why, cursor=json.dumps(sorted(stranded)))
