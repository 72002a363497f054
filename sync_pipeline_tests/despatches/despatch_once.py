"""Run the despatches job once in this process, as a Dagster run worker would (crash test helper)."""

from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.definitions import defs

if __name__ == "__main__":
    job = defs().resolve_job_def("despatches_job")
    job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=datetime.now(UTC).strftime("%Y-%m-%d")
    )
