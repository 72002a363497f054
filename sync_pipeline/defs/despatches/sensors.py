import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.despatches.assets import shopify_fulfilments
from sync_pipeline.defs.despatches.jobs import despatches_job
from sync_pipeline.defs.inbox_sensors import inbox_sensor_tick
from sync_pipeline.lib.peoplevox import callbacks

# Polling is the truth: a despatch whose callbacks were lost still reaches Shopify within this.
DESPATCH_POLL_SECONDS = 300
# One run fulfilling, the next read and waiting for `shopify_fulfil`, and the one after that
# starting up: a run's start-up (a new process loading the code, 10-25 s at a peak) and its read are
# then hidden behind the fulfil step ahead, which hands the pool over every `fulfil_max_seconds`.
# With two in flight the third was created only once the waiting run took the pool, and the pool
# stood idle through its start-up and read: 108 s of a 354 s peak in session 11's benchmark. Their
# steps never overlap in a pool (one Peoplevox read, one Shopify fulfil step at a time), and a
# fulfil step drains what the next run's read adds.
DESPATCH_RUNS_IN_FLIGHT = 3
DESPATCH_RUNS_WAITING = 1


def despatch_callback(event: dict) -> bool:
    """A package's tracking number arrived, or a sales order reached Despatched."""
    kind = event.get("event")
    params = callbacks.filled(event.get("params") or {})
    return kind == "TrackingNumberReceived" or (
        kind == "SalesOrderStatusChanges" and params.get(callbacks.STATUS, "").casefold() == "despatched"
    )


@dg.sensor(
    name="peoplevox_despatch_events",
    job=despatches_job,
    minimum_interval_seconds=15,
    default_status=brand.sensor_status("despatches"),
)
def peoplevox_despatch_events(context: dg.SensorEvaluationContext):
    """Launches one despatches run for every burst of Despatched / TrackingNumberReceived callbacks
    (while one run fulfils and the next waits for the pool, the one after may start up; never more
    than three), polls Peoplevox every 5 minutes in case callbacks were lost, and runs again at
    once when the last run stopped at its time limit with packages left."""
    return inbox_sensor_tick(
        context,
        "peoplevox",
        despatches_job.name,
        DESPATCH_POLL_SECONDS,
        partition=True,
        backlog_key=shopify_fulfilments.key,
        wanted=despatch_callback,
        max_in_flight=DESPATCH_RUNS_IN_FLIGHT,
        waiting_allowed=DESPATCH_RUNS_WAITING,
    )
