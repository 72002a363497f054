"""The rehearsal finds Dagster run workers the way Dagster 1.13's code server starts them: as
`multiprocessing` spawn children in the daemon's process group (the kill_run_worker fault and the
shutdown drain both depend on it)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sync_pipeline.rehearsal.stack import run_workers

# A parent that starts one spawn child, as the code server does for each run, and waits.
PARENT = """
import multiprocessing, time
def work():
    time.sleep(30)
if __name__ == "__main__":
    child = multiprocessing.get_context("spawn").Process(target=work)
    child.start()
    print(child.pid, flush=True)
    child.join()
"""


def test_a_spawned_run_worker_in_the_group_is_found_and_its_parent_is_not(tmp_path: Path) -> None:
    # From a file: a spawn child re-imports its parent's main module to find `work` (with
    # `python -c` it could not, died at once, and the test passed only if it looked in time).
    script = tmp_path / "code_server.py"
    script.write_text(PARENT, encoding="utf-8")
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        deadline = time.monotonic() + 10
        while child_pid not in run_workers(parent.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run_workers(parent.pid) == [child_pid]
    finally:
        parent.kill()
        subprocess.run(["pkill", "-KILL", "-g", str(parent.pid)], check=False)
        parent.wait()
