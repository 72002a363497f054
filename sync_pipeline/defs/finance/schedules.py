from datetime import UTC, datetime

import dagster as dg

from sync_pipeline.defs import brand
from sync_pipeline.defs.finance.jobs import finance_job
from sync_pipeline.defs.finance.scope import range_request
from sync_pipeline.defs.peak_mode import in_peak_mode
from sync_pipeline.defs.resources import BusinessRulesResource

# The last few days change by the hour (payments, despatches); older ones by the day (refunds and
# returns keep coming for weeks).
RECENT_DAYS = 2


@dg.schedule(job=finance_job, cron_schedule="20 * * * *", default_status=brand.schedule_status("finance"))
def finance_hourly(context: dg.ScheduleEvaluationContext):
    """Every hour: reconcile orders placed today and the two days before; not while peak mode is on
    (stock_buffers.yaml `peak`, as the latest ingest run judged it): the pass holds the ledger in one
    transaction, which grows with the despatches not yet settled, and in session 21's rehearsal at
    1,500 orders a minute it held it 112.8 s, stopping every flow mid-sale. The first hour after the
    sale reconciles the same days; the nightly pass is never skipped."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    if in_peak_mode(context.instance):
        return dg.SkipReason("peak mode is on: finance's hourly pass waits for the sale to end")
    return range_request(RECENT_DAYS, now, f"hourly-{now:%Y%m%d%H}")


@dg.schedule(job=finance_job, cron_schedule="40 2 * * *", default_status=brand.schedule_status("finance"))
def finance_nightly(context: dg.ScheduleEvaluationContext, business_rules: BusinessRulesResource):
    """Every night: reconcile again every order placed in the last `refresh_days` (finance.yaml)."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    return range_request(business_rules.load().finance.refresh_days, now, f"nightly-{now:%Y%m%d}")
