from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.finance.assets import shopify_order_money
from sync_pipeline.defs.finance.jobs import finance_job
from sync_pipeline.defs.finance.schedules import RECENT_DAYS
from sync_pipeline.defs.finance.scope import range_request
from sync_pipeline.defs.inbox_sensors import behind, in_flight, latest_metadata

# The flows a customer waits on: while one of them is behind, a money read (finance's, hourly) is
# the Shopify work that waits. Their runs stop at their own budgets with `caught_up` False.
HOT_PATH = (
    brand.key("shopify", "orders"),
    brand.key("shopify", "fulfilments"),
    brand.key("shopify", "inventory_levels"),
)


@dg.sensor(
    name="finance_money_backlog",
    job=finance_job,
    minimum_interval_seconds=30,
    default_status=brand.sensor_status("finance"),
)
def finance_money_backlog(context: dg.SensorEvaluationContext):
    """Reads Shopify's order money again at once (the hourly run's days) when the last money read
    stopped at its time budget (`money_read_max_seconds`, finance.yaml) with orders left to read, as
    the ingest and despatch sensors do for theirs: after a burst of orders the read goes on in runs of
    at most that long, each handing Shopify to ingest, fulfilments and stock pushes between them.
    These follow-up runs read the money only: the Peoplevox returns read and the reconciliation wait
    for the hourly run, so a backlog of Shopify reads spends none of the Peoplevox limiter that
    order release needs at a peak. They wait while orders ingest, fulfilments or stock pushes are
    behind (their last run stopped with Shopify work left): each follow-up holds `shopify_finance`
    for its 30 s and more, spending the Shopify cost bucket those flows share, and those flows are
    what customers wait for. The rehearsal at issue settings (session 8, then one `shopify_api` pool
    for all Shopify steps) started 7 follow-ups while all three were behind: with the hourly run they
    held that pool 364 s of 19 minutes (5,392 orders' money, 60 points each)."""
    if in_flight(context, finance_job.name):
        return dg.SkipReason(f"{finance_job.name} already queued or running")
    stopped_at, money = latest_metadata(context, shopify_order_money.key)
    if money.get("caught_up") is not False:
        return dg.SkipReason("the last money read caught up")
    if waiting_on := behind(context, HOT_PATH):
        return dg.SkipReason(f"the money read waits: {', '.join(waiting_on)} behind with Shopify work left")
    # One run per stopped read: the run key is the read's own materialisation.
    return range_request(
        RECENT_DAYS, datetime.now(UTC), f"money-backlog-{stopped_at:.3f}", assets=[shopify_order_money.key]
    )
