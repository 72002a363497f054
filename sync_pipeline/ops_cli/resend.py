"""`sync-pipeline resend ORDER --note TEXT`: put one refused or too-old order back in the release queue.

The next release run sends it under the same sales order number, so Peoplevox can never get it
twice. Orders in the warehouse, cancelled, or held (they go by themselves once fixed) are refused.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from sync_pipeline.lib.flows.ops.trace import OrderNotFoundError
from sync_pipeline.lib.flows.orders.state import RELEASABLE_STATUSES
from sync_pipeline.lib.ledger import ops as ledger_ops
from sync_pipeline.lib.ledger import trace as ledger_trace
from sync_pipeline.ops_cli.common import ledger, settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline resend", description=__doc__)
    parser.add_argument("order", help="#1001, Shopify's numeric id, the gid, or SHP-…")
    parser.add_argument("--note", required=True, help="why (kept in the order's history)")
    parser.add_argument("--by", default=getpass.getuser(), help="who asked (default: your login)")
    args = parser.parse_args(argv)
    book = ledger(settings())
    with book.transaction() as con:
        ids = ledger_trace.find_order_ids(con, args.order)
        if len(ids) != 1:
            print(OrderNotFoundError(f"{args.order!r} matches {len(ids)} orders"), file=sys.stderr)
            return 1
        done, how = ledger_ops.requeue(
            con, ids[0], actor=f"person:{args.by}", note=args.note, paid_statuses=RELEASABLE_STATUSES
        )
    print(f"{args.order}: {how}" + ("; the next release run sends it" if done else ""))
    return 0 if done else 1
