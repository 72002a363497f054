"""Alerts: a message for every failed run, and a digest of new P1 exceptions and failed checks.

Both sensors are on by default and silent until a channel is set (`SYNC_ALERT_*`, README). They
never open the ledger: the digest reads the latest `ops/exceptions` materialisation and Dagster's
check evaluations. Every alert goes through the outbox (`lib/alerts/outbox.py`), so a channel
that is down delays it and loses nothing; the digest sensor's every tick sends what is due.
"""

import time

import dagster as dg
from dagster_slack import SlackResource

from sync_pipeline.defs import brand
from sync_pipeline.defs.inbox_sensors import latest_metadata
from sync_pipeline.defs.ops.assets import EXCEPTIONS_KEY, P1_METADATA
from sync_pipeline.defs.sensor_instance import sensor_instance
from sync_pipeline.lib.alerts import messages
from sync_pipeline.lib.alerts.channels import Channel, SlackChannel, WebhookChannel
from sync_pipeline.lib.alerts.news import DigestCursor, advance, news
from sync_pipeline.lib.alerts.outbox import AlertOutbox, DeliveryReport
from sync_pipeline.settings import AlertSettings, SyncSettings

SLACK_TIMEOUT_SECONDS = 10  # a tick must not hang on Slack: the outbox retries later


def _channels() -> list[Channel]:
    """Read at every tick, so setting a channel needs no restart of the code location."""
    settings = AlertSettings()
    channels: list[Channel] = []
    if settings.slack_enabled and settings.slack_token is not None and settings.slack_channel:
        client = SlackResource(token=settings.slack_token.get_secret_value()).get_client()
        client.base_url = settings.slack_api_url.rstrip("/") + "/"
        client.timeout = SLACK_TIMEOUT_SECONDS
        channels.append(SlackChannel(client, settings.slack_channel))
    if settings.webhook_url is not None:
        channels.append(WebhookChannel(settings.webhook_url.get_secret_value()))
    return channels


def _outbox() -> AlertOutbox:
    return AlertOutbox(SyncSettings().data_dir / "alerts")


def _send(alert: messages.Alert, channels: list[Channel]) -> DeliveryReport:
    outbox = _outbox()
    outbox.put(alert, [c.name for c in channels])
    return outbox.deliver(channels)


def _delivered(report: DeliveryReport) -> str:
    if report.waiting:
        return f"{report.waiting} alert(s) waiting for a retry ({'; '.join(report.errors)[:300]})"
    return f"{report.sent} alert(s) sent"


def _failing_checks(context: dg.SensorEvaluationContext) -> dict[str, dict]:
    """Every asset check of this code location whose latest evaluation failed."""
    keys = context.repository_def.asset_graph.asset_check_keys if context.repository_def else set()
    latest = sensor_instance(context).event_log_storage.get_latest_asset_check_execution_by_key(list(keys))
    failing = {}
    for check_key, record in latest.items():
        evaluation = record.evaluation
        if evaluation is None or evaluation.passed:  # planned, running, or passed
            continue
        failing[check_key.to_user_string()] = {
            "key": check_key.to_user_string(),
            "check": check_key.name,
            "asset": check_key.asset_key.to_user_string(),
            "description": evaluation.description,
            "severity": evaluation.severity.value,
            "run_id": record.run_id,
        }
    return failing


@dg.sensor(
    name="ops_alert_digest",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="At most once per SYNC_ALERT_DIGEST_MINUTES: the exceptions that became P1 and the checks "
    "that began failing, to Slack and/or a webhook; retries alerts a channel did not take.",
)
def ops_alert_digest(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    channels = _channels()
    if not channels:
        return dg.SkipReason(
            "no alert channel set (SYNC_ALERT_SLACK_TOKEN and _CHANNEL, or SYNC_ALERT_WEBHOOK_URL)"
        )
    retried = _outbox().deliver(channels)  # what an earlier tick (or the run-failure sensor) could not send
    cursor = DigestCursor.parse(context.cursor)
    p1 = list(latest_metadata(context, EXCEPTIONS_KEY)[1].get(P1_METADATA) or [])
    failing = _failing_checks(context)
    now = time.time()
    interval = AlertSettings().digest_minutes * 60
    due_in = cursor.last_digest + interval - now
    found = news(cursor, p1, failing)
    if not found:
        reason = "nothing new for a digest"
        sent = None
    elif due_in > 0:
        reason = (
            f"{len(found.p1)} P1 and {len(found.checks)} check(s) new; next digest in {due_in / 60:.0f} min"
        )
        sent = None
    else:
        alert = messages.digest(brand.BRAND, found.p1, found.checks, AlertSettings().digest_minutes)
        report = _send(alert, channels)
        reason = f"digest of {len(found.p1)} P1 and {len(found.checks)} check(s): {_delivered(report)}"
        sent = found
    if retried.sent or retried.dropped:
        reason += f"; earlier alerts: {retried.sent} sent, {retried.dropped} given up"
    # The reason is the tick's skip reason, in the UI's tick history; not also `context.log`, which
    # opens a Dagster instance for every evaluation (`sensor_instance`).
    return dg.SensorResult(skip_reason=reason, cursor=advance(cursor, p1, failing, sent, now).dump())


def _root_error(event: dg.DagsterEvent) -> str | None:
    """The user's error, not Dagster's wrapper around it."""
    error = getattr(event.event_specific_data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    return None if error is None else error.message


@dg.run_failure_sensor(
    name="ops_run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="One alert per failed run of this code location: job, run, failed step, its error.",
)
def ops_run_failure_alert(context: dg.RunFailureSensorContext) -> None:
    channels = _channels()
    if not channels:
        return
    steps = context.get_step_failure_events()
    step = steps[0].step_key if steps else None
    error = _root_error(steps[0]) if steps else context.failure_event.message
    run = context.dagster_run
    alert = messages.run_failure(brand.BRAND, run.job_name, run.run_id, step, error)
    context.log.info(f"run {run.run_id} failed: {_delivered(_send(alert, channels))}")
