"""Alerts against a local HTTP receiver standing in for Slack and a webhook, including it being down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.alerts import messages
from sync_pipeline.lib.alerts.channels import WebhookChannel
from sync_pipeline.lib.alerts.news import DigestCursor, advance, news
from sync_pipeline.lib.alerts.outbox import AlertOutbox
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import ops as ledger_ops
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.records import ExceptionRecord
from sync_pipeline.sandbox.server import free_port, serve_in_thread
from sync_pipeline_tests.ops import world

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Catcher:
    """What reached the fake Slack and the webhook; `status` is what the webhook answers."""

    url: str = ""
    hooks: list[dict[str, Any]] = field(default_factory=list)
    slack: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200


@pytest.fixture(scope="module")
def catcher() -> Iterator[Catcher]:
    caught = Catcher()

    async def hook(request: Request) -> PlainTextResponse:
        if caught.status != 200:
            return PlainTextResponse("down for maintenance", status_code=caught.status)
        caught.hooks.append(await request.json())
        return PlainTextResponse("ok")

    async def slack(request: Request) -> JSONResponse:
        assert request.headers["authorization"] == "Bearer xoxb-test-token"
        body = await request.body()
        caught.slack.append(json.loads(body) if body.startswith(b"{") else dict(await request.form()))
        return JSONResponse({"ok": True, "channel": "C1", "ts": "1.0"})

    app = Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/api/chat.postMessage", slack, methods=["POST"]),
        ]
    )
    with serve_in_thread(app) as url:
        caught.url = url
        yield caught


@pytest.fixture
def fresh(catcher: Catcher) -> Catcher:
    catcher.hooks.clear()
    catcher.slack.clear()
    catcher.status = 200
    return catcher


def test_an_alert_waits_in_the_outbox_while_the_receiver_is_down(tmp_path: Path, fresh: Catcher) -> None:
    outbox = AlertOutbox(tmp_path)
    alert = messages.run_failure(None, "orders_ingest_job", "r-1", "shopify__orders", "ReadTimeout: Shopify")
    dead = WebhookChannel(f"http://127.0.0.1:{free_port()}/hook", timeout=2)  # nothing listens there
    outbox.put(alert, ["webhook"], now=1000.0)
    report = outbox.deliver([dead], now=1000.0)
    assert (report.sent, report.waiting) == (0, 1) and "unreachable" in report.errors[0]
    [pending] = outbox.pending()
    assert json.loads(pending.read_text())["next_at"] == 1060.0  # tried again in a minute
    # A receiver that answers 503 is no better; nothing is lost, the wait doubles.
    fresh.status = 503
    live = WebhookChannel(f"{fresh.url}/hook")
    assert outbox.deliver([live], now=1061.0).waiting == 1
    assert json.loads(pending.read_text())["next_at"] == 1061.0 + 120
    assert outbox.deliver([live], now=1100.0).waiting == 1  # not due yet: not even tried
    fresh.status = 200
    assert outbox.deliver([live], now=1200.0).sent == 1
    assert outbox.pending() == []
    [body] = fresh.hooks
    assert body["kind"] == "run_failure" and "orders_ingest_job" in body["text"]


@pytest.fixture
def alert_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh: Catcher) -> Catcher:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SYNC_ALERT_WEBHOOK_URL", f"{fresh.url}/hook")
    monkeypatch.setenv("SYNC_ALERT_SLACK_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SYNC_ALERT_SLACK_CHANNEL", "#ops-alerts")
    monkeypatch.setenv("SYNC_ALERT_SLACK_API_URL", f"{fresh.url}/api/")
    monkeypatch.setenv("SYNC_ALERT_DIGEST_MINUTES", "15")
    return fresh


def _ops_location(data_dir: Path) -> tuple[dg.DagsterInstance, dict[str, Any], dg.Definitions]:
    """An instance, the asset's resources, and a code location of the asset, its checks and the digest."""
    from sync_pipeline.defs.ops.alerts import ops_alert_digest
    from sync_pipeline.defs.ops.assets import ops_exceptions

    resources: dict[str, Any] = {
        "ledger": LedgerResource(data_dir=str(data_dir)),
        "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
    }
    definitions = dg.Definitions(assets=[ops_exceptions], sensors=[ops_alert_digest], resources=resources)
    return dg.DagsterInstance.ephemeral(), resources, definitions


def test_one_digest_per_interval_to_slack_and_the_webhook(tmp_path: Path, alert_env: Catcher) -> None:
    from sync_pipeline.defs.ops.alerts import ops_alert_digest
    from sync_pipeline.defs.ops.assets import ops_exceptions

    ledger = world.build(tmp_path)
    instance, resources, definitions = _ops_location(tmp_path)
    assert dg.materialize([ops_exceptions], resources=resources, instance=instance).success

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions)
        return ops_alert_digest(context)

    first = tick(None)
    [hook] = alert_env.hooks
    [slack] = alert_env.slack
    assert hook["kind"] == "digest" and slack["channel"] == "#ops-alerts"
    assert {e["kind"] for e in hook["data"]["exceptions"]} == {"injection_failed", "unmapped_sku"}
    assert [c["check"] for c in hook["data"]["checks"]] == ["warehouse_ops_p1_within_threshold"]
    assert "Warehouse ops (2):" in slack["text"] and "#1002" in slack["text"]

    # The next tick has nothing new: what was announced is not repeated.
    second = tick(first.cursor)
    assert second.skip_reason.skip_message == "nothing new for a digest"
    # A new P1 inside the interval waits for the next digest; the still-failing check, re-evaluated
    # by the new materialisation, is not news.
    with ledger.transaction() as con:
        ledger_orders.upsert(con, [world.order(1005, state.INJECTION_FAILED, "3000.00", 30, b2b=True)])
        ledger_exceptions.open_or_touch(
            con,
            [
                ExceptionRecord(
                    "injection_failed", "warehouse_ops", "refused", shopify_order_id=world.order_id(1005)
                )
            ],
        )
    assert dg.materialize([ops_exceptions], resources=resources, instance=instance).success
    third = tick(second.cursor)
    assert "1 P1 and 0 check(s) new; next digest in 1" in third.skip_reason.skip_message
    assert len(alert_env.hooks) == 1
    fourth = tick(_earlier(third.cursor, minutes=16))
    assert len(alert_env.hooks) == 2 and alert_env.hooks[1]["data"]["checks"] == []
    assert [e["order"] for e in alert_env.hooks[1]["data"]["exceptions"]] == ["#1005"]

    # Someone handles #1002: the check passes, and is forgotten, so failing again will be news.
    late = next(e["id"] for e in hook["data"]["exceptions"] if e["order"] == "#1002")
    with ledger.transaction() as con:
        assert ledger_ops.close(con, [(late, "re-sent by hand")], "test") == [late]
    assert dg.materialize([ops_exceptions], resources=resources, instance=instance).success
    fifth = tick(_earlier(fourth.cursor, minutes=16))
    assert fifth.skip_reason.skip_message == "nothing new for a digest"
    assert json.loads(fifth.cursor)["failing_checks"] == []
    assert late not in json.loads(fifth.cursor)["announced_p1"]
    assert len(alert_env.hooks) == 2


def _earlier(cursor: str | None, minutes: float) -> str:
    """The cursor as if its last digest were `minutes` older (instead of waiting an interval)."""
    state = json.loads(cursor or "{}")
    state["last_digest"] -= minutes * 60
    return json.dumps(state)


def test_the_digest_survives_a_dead_receiver(
    tmp_path: Path, alert_env: Catcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_pipeline.defs.ops.alerts import ops_alert_digest
    from sync_pipeline.defs.ops.assets import ops_exceptions

    world.build(tmp_path)
    monkeypatch.delenv("SYNC_ALERT_SLACK_TOKEN")
    monkeypatch.setenv("SYNC_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{free_port()}/hook")
    instance, resources, definitions = _ops_location(tmp_path)
    assert dg.materialize([ops_exceptions], resources=resources, instance=instance).success
    context = dg.build_sensor_context(instance=instance, definitions=definitions)
    result = ops_alert_digest(context)
    assert "waiting for a retry" in result.skip_reason.skip_message
    [pending] = AlertOutbox(tmp_path / "alerts").pending()
    assert json.loads(pending.read_text())["alert"]["kind"] == "digest"


def test_a_failed_run_is_alerted_once(tmp_path: Path, alert_env: Catcher) -> None:
    from sync_pipeline.defs.ops.alerts import ops_run_failure_alert

    @dg.op
    def talk_to_peoplevox() -> None:
        raise RuntimeError("Peoplevox answered 500 three times")

    @dg.job
    def orders_release_job() -> None:
        talk_to_peoplevox()

    instance = dg.DagsterInstance.ephemeral()
    result = orders_release_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    context = dg.build_run_status_sensor_context(
        sensor_name="ops_run_failure_alert",
        dagster_instance=instance,
        dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(),
    ).for_run_failure()
    ops_run_failure_alert(context)
    [hook] = alert_env.hooks
    assert hook["title"] == "sync-pipeline: run failed: orders_release_job"
    assert "talk_to_peoplevox" in hook["text"] and "Peoplevox answered 500" in hook["text"]
    assert len(alert_env.slack) == 1


def test_a_second_sender_leaves_the_outbox_to_the_first(tmp_path: Path, fresh: Catcher) -> None:
    """The two alert sensors may tick together: only one sends, so nobody gets an alert twice."""
    outbox = AlertOutbox(tmp_path)
    outbox.put(messages.run_failure(None, "despatches_job", "r-2", None, None), ["webhook"])
    live = WebhookChannel(f"{fresh.url}/hook")
    with outbox._sender() as alone:
        assert alone
        report = outbox.deliver([live])
        assert (report.sent, report.waiting, report.errors) == (0, 1, ["another sensor is sending"])
    assert outbox.deliver([live]).sent == 1 and len(fresh.hooks) == 1


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(
        st.tuples(st.frozensets(st.integers(1, 6)), st.frozensets(st.sampled_from("abc")), st.booleans()),
        max_size=25,
    )
)
def test_each_p1_and_each_failing_check_is_news_once_per_streak(
    ticks: list[tuple[frozenset[int], frozenset[str], bool]],
) -> None:
    """Whatever the sequence of ticks: within one unbroken streak of being P1 (or failing), a thing
    is in at most one digest, and a digest never leaves out something current it has not announced."""
    cursor = DigestCursor()
    announced_in_streak: dict[str, int] = {}
    for now, (p1_ids, failing_names, due) in enumerate(ticks, start=1):
        p1 = [{"id": i} for i in sorted(p1_ids)]
        failing = {name: {"key": name} for name in failing_names}
        current = {f"p{i}" for i in p1_ids} | {f"c{n}" for n in failing_names}
        announced_in_streak = {k: v for k, v in announced_in_streak.items() if k in current}
        found = news(cursor, p1, failing)
        sent = found if (found and due) else None
        if sent is not None:
            named = {f"p{e['id']}" for e in sent.p1} | {f"c{c['key']}" for c in sent.checks}
            for thing in named:
                announced_in_streak[thing] = announced_in_streak.get(thing, 0) + 1
            assert current <= set(announced_in_streak)  # nothing current left unannounced
        cursor = DigestCursor.parse(advance(cursor, p1, failing, sent, float(now)).dump())
        assert all(count == 1 for count in announced_in_streak.values())
