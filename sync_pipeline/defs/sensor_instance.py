"""One Dagster instance a code-server process for every sensor's reads.

Dagster opens a new `DagsterInstance` for each sensor evaluation it serves over gRPC
(`context.instance`, from the evaluation's instance ref), and opening one on SQLite storage
re-reads alembic's revision scripts to check the schema: 16 % of the code server's CPU in session
16's rehearsal, where sensors tick every 5-15 s. Our sensors only read runs, events and pool
slots, which every call reads fresh from storage, so one instance per ref serves every tick.
Under test (`build_sensor_context(instance=…)`) there is no ref and the given instance is used.
"""

import threading

import dagster as dg
from dagster._serdes import serialize_value

_OPENED: dict[str, dg.DagsterInstance] = {}
_LOCK = threading.Lock()


def sensor_instance(context: dg.SensorEvaluationContext) -> dg.DagsterInstance:
    """The instance `context` points at, opened once in this process."""
    ref = context.instance_ref
    if ref is None:
        return context.instance
    key = serialize_value(ref)
    with _LOCK:  # the code server evaluates sensors on a thread pool
        instance = _OPENED.get(key)
        if instance is None:
            instance = _OPENED[key] = dg.DagsterInstance.from_ref(ref)
        return instance
