"""Release: due orders are re-read, translated and injected into Peoplevox, exactly once.

One module per step (see `run.py` for the order they run in):
`in_doubt` (finish unknown outcomes), `reread` (Shopify again, translate), `inject`
(write-ahead, save, verdicts), `changes` (edits after injection, before or past the cut-off).
"""

from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.run import RELEASE_RUN_SECONDS, release

__all__ = ["RELEASE_RUN_SECONDS", "ReleaseReport", "release"]
