"""`sync-pipeline trace ORDER [--json]`: an order's whole timeline from the ledger.

ORDER is `#1001`, Shopify's numeric id, the order's gid, or the Peoplevox sales order number.
"""

from __future__ import annotations

import argparse
import sys

from sync_pipeline.lib.domain.exception_catalogue import current_owner
from sync_pipeline.lib.flows.ops.trace import OrderNotFoundError, load, timeline
from sync_pipeline.ops_cli.common import cut, ledger, print_json, settings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline trace", description=__doc__)
    parser.add_argument("order", help="#1001, 5123456789, gid://shopify/Order/…, or SHP-…")
    parser.add_argument("--json", action="store_true", help="machine-readable: the record and the timeline")
    args = parser.parse_args(argv)
    try:
        record = load(ledger(settings()), args.order)
    except OrderNotFoundError as error:
        print(error, file=sys.stderr)
        return 1
    moments = timeline(record)
    if args.json:
        print_json({**record, "timeline": [m.__dict__ for m in moments]})
        return 0
    o = record["order"]
    # Every field below is someone else's text (a customer's company, a merchant's SKU): all through `cut`.
    print(f"{cut(o['order_name'], 40)}  {o['shopify_order_id']}  {o['total_price']} {cut(o['currency'], 3)}"
          + ("  B2B " + cut(o["b2b_company"], 80) if o.get("b2b_company") else ""))  # fmt: skip
    print(f"  state {o['state']}" + (f", despatch {o['despatch_state']}" if o.get("despatch_state") else "")
          + f"; Peoplevox {o['sales_order_number'] or '—'} status {cut(o['pvx_status'], 40) or '—'}"
          + ("; change pending" if o["change_pending"] else ""))  # fmt: skip
    if o.get("release_due_at") and o["state"] == "awaiting_release":
        print(f"  release due {o['release_due_at']:%Y-%m-%d %H:%M} UTC")
    for line in record["lines"]:
        print(f"  line {cut(line['line_id'], 60)}: {line['quantity']} × {cut(line['sku'], 80) or '(no SKU)'}")
    print()
    for m in moments:
        print(f"{m.at:%Y-%m-%d %H:%M:%S}  {m.area:10}  {cut(m.what, 140)}")
    open_ones = [x for x in record["exceptions"] if x["status"] == "open"]
    if open_ones:
        print("\nopen exceptions:")
        for x in open_ones:
            print(
                f"  #{x['exception_id']} {x['kind']} ({current_owner(x['kind'], x['owner'])}): {cut(x['message'], 120)}"
            )
    return 0
