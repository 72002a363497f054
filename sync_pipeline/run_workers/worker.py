"""The body of a warm run worker: what `dagster api execute_run` does, in a forked process.

The worker first writes its identity on the run (`identity.WORKER_TAG`): the launcher reads it to
check the worker's health and to cancel the run. The worker writes it itself, before the run
starts, because Dagster's `add_run_tags` rewrites the whole stored run: written by the launcher
while the worker marks the run started, one of the two writes could undo the other.
"""

from __future__ import annotations

import os

from sync_pipeline.run_workers.identity import WORKER_RUN_TAG, WORKER_TAG, WorkerId, started_ticks, this_host


def execute_run(run_id: str, serialized_instance_ref: str) -> int:
    """Execute run `run_id` to its end; the exit code a cold `dagster api execute_run` would give
    (0 also when the run failed: its failure is in the event log, and a crash is a non-zero code
    or a signal)."""
    from dagster._cli.api import _execute_run_command_body
    from dagster._core.instance import DagsterInstance, InstanceRef
    from dagster._core.storage.dagster_run import DagsterRunStatus
    from dagster._serdes import deserialize_value
    from dagster._utils.interrupts import capture_interrupts

    ref = deserialize_value(serialized_instance_ref, InstanceRef)
    pid = os.getpid()
    me = WorkerId(this_host(), pid, started_ticks(pid) or 0)
    # SIGINT (the launcher's `terminate`) becomes Dagster's interrupt, as in a cold worker.
    with capture_interrupts(), DagsterInstance.from_ref(ref) as instance:
        instance.add_run_tags(run_id, {WORKER_TAG: me.tag(), WORKER_RUN_TAG: run_id})
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status == DagsterRunStatus.CANCELING:
            # Cancelled before this worker had named itself: nothing could interrupt it, so it
            # ends the run as cancelled itself (Dagster would only call it a duplicate launch).
            instance.report_run_canceled(run, message="Cancelled before its run worker started.")
            return 0
        return _execute_run_command_body(
            run_id, instance, lambda _event: None, set_exit_code_on_failure=False
        )
