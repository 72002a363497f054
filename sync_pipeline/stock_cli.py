"""`sync-pipeline stock suspects|accept`: the circuit breaker's runbook from a terminal.

    sync-pipeline stock suspects                          # what is waiting, and why
    sync-pipeline stock accept --by ops@example.com       # accept the newest suspect snapshot
    sync-pipeline stock accept --snapshot 42 --by …       # accept that one

Accept only after checking the figures in Peoplevox (docs/stock_flow.md, runbook). The next push
run publishes them; run `shopify/inventory_levels` from the Dagster UI to do it at once.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from sync_pipeline.lib.flows.stock.accept import accept_snapshot
from sync_pipeline.lib.ledger import stock_snapshots
from sync_pipeline.ops_cli.common import ledger as open_ledger
from sync_pipeline.ops_cli.common import settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline stock", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("suspects", help="list stock snapshots the circuit breaker held back")
    accept = sub.add_parser("accept", help="accept a suspect snapshot: its figures go to Shopify")
    accept.add_argument("--by", required=True, help="who accepts (a name or e-mail, kept in the ledger)")
    accept.add_argument(
        "--snapshot", type=int, default=None, help="snapshot id (default: the newest suspect)"
    )
    args = parser.parse_args(argv)
    # Like every terminal command: a wrong SYNC_DATA_DIR is refused, not answered from a fresh empty ledger.
    ledger = open_ledger(settings())
    if args.action == "suspects":
        with ledger.transaction() as con:
            waiting = stock_snapshots.suspects(con)
        if not waiting:
            print("no stock snapshot is waiting to be accepted")
        for s in waiting:
            print(f"snapshot {s.snapshot_id} ({s.kind}, {s.taken_at:%Y-%m-%d %H:%M} UTC, {s.rows_read:,} rows, "
                  f"{s.total_available:,} units): {s.verdict_reason}")  # fmt: skip
        return 0
    try:
        accepted = accept_snapshot(ledger, args.by, datetime.now(UTC), args.snapshot)
    except ValueError as error:  # NothingToAccept is one
        print(f"not accepted: {error}", file=sys.stderr)
        return 1
    print(f"snapshot {accepted.snapshot_id} accepted by {accepted.decided_by}: "
          f"{accepted.total_available:,} units across {accepted.rows_read:,} rows; the next push publishes them")  # fmt: skip
    return 0
