"""Run output (stdout and stderr) captured to files for the Dagster UI, without Dagster's mirror.

Dagster's `LocalComputeLogManager` writes a run's output to files the UI shows and also mirrors it
to the run process's own stdout and stderr: for that it starts, for every run, a `tail -F` and a
Python watchdog (`watch_orphans.py`) for each of the two streams. At session 18's despatch peak the
two watchdogs alone were 4.6 % of the run workers' CPU (py-spy, 0.18 CPU-s a run before the two
`tail`s), and a warm worker's own stdout is only the daemon's log. This manager writes the same
files in the same places (the UI, `dagster instance` and the compute-log API read them as before)
and mirrors nothing. Embedded only (`dagster.yaml`): deployed, a run's output going to its
container's log is the mirror, so `deploy/dagster.yaml` keeps Dagster's manager.

`base_dir` defaults to `$DAGSTER_HOME/storage`, where Dagster's default manager writes.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dagster import Field, StringSource
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.instance.ref import compute_logs_directory
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file


class FileComputeLogManager(LocalComputeLogManager):
    """`LocalComputeLogManager` that writes a run's output to its files only."""

    def __init__(
        self,
        base_dir: str | None = None,
        polling_timeout: float | None = None,
        inst_data: ConfigurableClassData | None = None,
    ) -> None:
        # An empty base directory is filled in from the instance it is registered with.
        super().__init__(base_dir or "", polling_timeout, inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "base_dir": Field(StringSource, is_required=False),
            "polling_timeout": Field(float, is_required=False),
        }

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> FileComputeLogManager:
        return cls(inst_data=inst_data, **config_value)

    def register_instance(self, instance: Any) -> None:
        super().register_instance(instance)
        if not self._base_dir:
            self._base_dir = compute_logs_directory(instance.root_directory)

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Generator[CapturedLogContext, None, None]:
        out = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        err = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        ensure_file(out)
        ensure_file(err)
        with redirect_to_file(sys.stdout, out), redirect_to_file(sys.stderr, err):
            yield CapturedLogContext(log_key)
        # As Dagster's manager does: the artifact tells readers the capture is complete.
        touch_file(self.complete_artifact_path(log_key))
