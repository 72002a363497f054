"""A persistent Dagster instance for tests that execute runs in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dagster as dg

# `instance_for_test` captures each run's stdout with the local compute log manager: two processes
# (`tail -F` and a Python orphan watcher) started and stopped per run, most of a second each under
# load. No test that uses this instance reads captured logs; the deployment and UI tests, which run
# the product's own dagster.yaml, keep the real compute log manager.
NO_CAPTURED_LOGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
    }
}


@contextmanager
def run_instance(overrides: dict[str, Any] | None = None) -> Iterator[dg.DagsterInstance]:
    """`dg.instance_for_test` (sqlite storage in a temp DAGSTER_HOME) without captured compute logs."""
    with dg.instance_for_test(overrides={**NO_CAPTURED_LOGS, **(overrides or {})}) as instance:
        yield instance
