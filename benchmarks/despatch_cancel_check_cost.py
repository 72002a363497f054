"""What the fulfil step's search for fulfilments cancelled in Shopify costs the ledger
(`ledger.fulfilment_checks.changed_since_fulfilled`, once a step), against the step's own first
ledger read (`open_packages`) in the same run, at `--fulfilments` created fulfilments (orders changed
over 30 days, 1 in 500 of them after our write). Also the variant limited to orders changed in the
last two days, which was tried and not kept (docs/despatches_flow.md, "Cancelled in Shopify").

    .venv/bin/python benchmarks/despatch_cancel_check_cost.py --fulfilments 100000
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.ledger import Ledger, fulfilment_checks
from sync_pipeline.lib.ledger import despatches as ledger_despatches

parser = argparse.ArgumentParser()
parser.add_argument("--fulfilments", type=int, default=100_000)
N = parser.parse_args().fulfilments
ledger = Ledger(Path(tempfile.mkdtemp()) / "l.duckdb")
UPD = "(now()::TIMESTAMP - INTERVAL 1 DAY * (i % 30) - INTERVAL 1 HOUR)"
with ledger.transaction() as con:
    con.execute(f"""INSERT INTO orders (shopify_order_id, state, shopify_updated_at, first_seen_at, last_seen_at)
        SELECT 'gid://shopify/Order/' || i, 'released', {UPD}, now()::TIMESTAMP, now()::TIMESTAMP FROM range({N}) t(i)""")
    con.execute(f"""INSERT INTO shopify_fulfilments (package_number, shopify_order_id, state, request, line_quantities,
        notify_customer, first_attempt_at, last_attempt_at, created_at)
        SELECT 'P' || i, 'gid://shopify/Order/' || i, 'created', '{{}}', '{{}}', false, {UPD} - INTERVAL 1 DAY, {UPD} - INTERVAL 1 DAY,
        CASE WHEN i % 500 = 0 THEN {UPD} - INTERVAL 10 SECOND ELSE {UPD} + INTERVAL 10 SECOND END FROM range({N}) t(i)""")
    con.execute(f"""INSERT INTO despatch_packages (package_number, despatch_number, sales_order_number, shopify_order_id,
        despatched_at, despatch_date, items, state, first_seen_at, updated_at)
        SELECT 'P' || i, 'D' || i, 'S' || i, 'gid://shopify/Order/' || i, now()::TIMESTAMP, current_date, '{{}}',
        'fulfilled', now()::TIMESTAMP, now()::TIMESTAMP FROM range({N}) t(i)""")

WHOLE = """SELECT o.shopify_order_id FROM orders o JOIN (SELECT shopify_order_id, max(greatest(coalesce(created_at,
  last_attempt_at), coalesce(tracking_posted_at, created_at, last_attempt_at))) AS ours FROM shopify_fulfilments WHERE state = 'created'
  GROUP BY shopify_order_id) f USING (shopify_order_id) LEFT JOIN shopify_own_versions v USING (shopify_order_id)
  LEFT JOIN shopify_fulfilment_checks c USING (shopify_order_id) WHERE o.shopify_updated_at > greatest(f.ours,
  coalesce(v.updated_at, f.ours), coalesce(c.checked_version, f.ours)) ORDER BY o.shopify_updated_at LIMIT 50"""


RECENT = WHOLE.replace(
    "FROM orders o",
    "FROM (SELECT * FROM orders WHERE shopify_updated_at >= now()::TIMESTAMP - INTERVAL 2 DAY) o",
).replace(
    "WHERE state = 'created'",
    "WHERE state = 'created' AND shopify_order_id IN (SELECT shopify_order_id FROM orders "
    "WHERE shopify_updated_at >= now()::TIMESTAMP - INTERVAL 2 DAY)",
)


def timed(fn, reps=15):
    out = []
    for _ in range(reps):
        with ledger.transaction() as con:
            t = time.perf_counter()
            r = fn(con)
            out.append(time.perf_counter() - t)
    return statistics.median(out), r


base, _ = timed(lambda con: ledger_despatches.open_packages(con, states.OPEN, limit=800))
whole, a = timed(lambda con: con.execute(WHOLE).fetchall())
shipped, b = timed(lambda con: fulfilment_checks.changed_since_fulfilled(con, 50))
recent, c = timed(lambda con: con.execute(RECENT).fetchall())
print(
    f"{N} created fulfilments; candidates found: shipped {len(b)}, same query inline {len(a)}, recent-only {len(c)}"
)
print(f"baseline open_packages (the fulfil step's first read): median {base * 1000:.2f} ms")
print(f"changed_since_fulfilled (shipped): median {shipped * 1000:.2f} ms = {shipped / base:.1f} x baseline")
print(
    f"orders changed in the last two days only (not kept): median {recent * 1000:.2f} ms = {recent / base:.1f} x baseline"
)
