"""The hourly reconcile's push, prepared by its snapshot step and handed to its push step.

`stock_reconcile_job` runs both steps in one process (the in-process executor), one after the other.
The snapshot step reads Peoplevox and meanwhile what the push needs besides the figures
(`lib/flows/stock/prepare.py`), and leaves it here under the run's id; the push step takes it. A
push step that finds nothing (the incremental job, a retry in a new process) reads it itself.
"""

from __future__ import annotations

import threading

from sync_pipeline.lib.flows.stock.prepare import Prepared

_lock = threading.Lock()
_prepared: dict[str, Prepared] = {}


def leave(run_id: str, prepared: Prepared) -> None:
    with _lock:
        _prepared.clear()  # one reconcile at a time per process: nothing older is wanted
        _prepared[run_id] = prepared


def take(run_id: str) -> Prepared | None:
    with _lock:
        return _prepared.pop(run_id, None)
