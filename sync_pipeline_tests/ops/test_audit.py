"""`sync-pipeline audit` against both sandboxes: critical findings exit 1, a healthy setup exits 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sync_pipeline import cli
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.sandbox.shopify.control_models import ProductSpec, VariantSpec
from sync_pipeline_tests.cli import test_subscribe
from sync_pipeline_tests.cli.test_subscribe import Env

REPO_ROOT = Path(__file__).resolve().parents[2]
# Both sandboxes on 127.0.0.1 and the environment pointing at them, as `subscribe` is tested.
env = test_subscribe.env


def _report(env: Env) -> str:
    [report] = sorted((env.ledger_path.parent / "exports" / "audit").glob("audit-*.md"))[-1:]
    return report.read_text()


def test_audit_finds_what_is_missing_and_passes_once_wired(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(REPO_ROOT / "data" / "config"))
    env.shop.add_product(
        ProductSpec(title="Tee", variants=[VariantSpec(sku="TEE-M"), VariantSpec(sku="MUG-X")])
    )
    env.pvx.seed_items([("TEE-M", "5000000000001", "Tee M"), ("OLD-ITEM", "5000000000002", "Old")])

    # Nothing subscribed yet: critical, exit 1, and the report says what to run.
    assert cli.main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "CRITICAL  webhooks       Shopify webhook ORDERS_PAID is missing" in out
    assert "Peoplevox SalesOrderStatusChanges callback is not subscribed" in out
    assert "run `sync-pipeline subscribe`" in _report(env)

    assert cli.main(["subscribe"]) == 0
    capsys.readouterr()
    # The receiver took one Peoplevox callback and refused three forged webhooks (counted as one
    # line plus a repeat count); a line cut short by a crash is skipped, not fatal.
    inbox = Inbox(env.ledger_path.parent / "inbox")
    inbox.write("peoplevox", {"event": "AvailabilityChanges", "params": {"ItemCode": "TEE-M"}})
    for _ in range(3):
        inbox.record_rejection("shopify", "bad HMAC signature", {"topic": "orders/paid"}, 401)
    inbox.rejections.flush(everything=True)
    with inbox.rejections.path.open("a") as log:
        log.write('{"at": 1e12, "source": "sho')
    assert cli.main(["audit"]) == 0
    out = capsys.readouterr().out
    report = _report(env)
    assert "0 critical finding(s)" in out
    assert "1 Shopify SKU(s) map to no Peoplevox item type" in report and "`MUG-X`" in report
    assert "1 Peoplevox item type(s) no Shopify SKU reaches" in report and "`OLD-ITEM`" in report
    assert "Shopify has never sent an event" in report
    assert "Peoplevox last sent an event 0.0 h ago" in report
    assert "3 request(s) refused by the receiver in the last 24 h" in report
    assert "Shopify cost bucket" in report and "Peoplevox limiter: 1000 requests" in report
    assert "0 open exception(s)" in report
    assert "every site in routing.yaml exists in Peoplevox (2)" in report
    assert "every service type in routing.yaml exists in Peoplevox" in report
    # Read-only: the audit created no webhook and no subscription.
    assert len(env.shop.state()["webhook_subscriptions"]) == 4

    # The receiver moved: every subscription now points elsewhere.
    monkeypatch.setenv("SYNC_RECEIVER_PUBLIC_URL", "https://hooks.brand.example")
    assert cli.main(["audit"]) == 1
    assert "points elsewhere" in capsys.readouterr().out


def test_audit_with_an_unreachable_system_still_reports(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(REPO_ROOT / "data" / "config"))
    monkeypatch.setenv("PEOPLEVOX_PASSWORD", "wrong-password")
    monkeypatch.delenv("SHOPIFY_ACCESS_TOKEN")
    assert cli.main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "SHOPIFY_ACCESS_TOKEN is not set" in out
    assert "peoplevox subscriptions" in out.lower() and "could not check" in out
    assert "wrong-password" not in out and "wrong-password" not in _report(env)


def test_audit_finds_a_routed_site_peoplevox_does_not_have(
    env: Env,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config_dir = tmp_path / "rules"
    shutil.copytree(REPO_ROOT / "data" / "config", config_dir)
    routing = config_dir / "routing.yaml"
    routing.write_text(routing.read_text().replace("Wholesale", "Outlet").replace("Pallet", "Barge"))
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(config_dir))
    assert cli.main(["subscribe"]) == 0
    capsys.readouterr()
    assert cli.main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "routing.yaml names 1 site(s) Peoplevox does not have" in out and "`Outlet`" in out
    assert "routing.yaml names 1 service type(s) Peoplevox does not have" in out and "`Barge`" in out
    assert "Peoplevox has: PrimarySite, Wholesale" in out
