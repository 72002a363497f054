"""Run the release job once in this process, as a Dagster run worker would (crash test helper)."""

import dagster as dg

from sync_pipeline.definitions import defs

if __name__ == "__main__":
    job = defs().resolve_job_def("orders_release_job")
    job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
