"""`sync-pipeline audit` against both sandboxes: critical findings exit 1, a healthy setup exits 0."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync_pipeline import cli
from sync_pipeline.lib.flows.ops.audit import AuditInputs, run_audit
from sync_pipeline.lib.flows.ops.audit_rules import Finding, Severity
from sync_pipeline.lib.flows.stock.push import FULL_READ_CURSOR
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import cursors
from sync_pipeline.sandbox.shopify.control_models import ProductSpec, StockSpec, VariantSpec
from sync_pipeline.subscribe import SHOPIFY_TOPICS
from sync_pipeline_tests.cli import test_subscribe
from sync_pipeline_tests.cli.test_subscribe import Env
from sync_pipeline_tests.stock.world import POPUP, RULES, World, stock_world

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
    assert len(env.shop.state()["webhook_subscriptions"]) == len(SHOPIFY_TOPICS)

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


def _stock_audit(w: World, tmp_path: Path) -> dict[str, list[Finding]]:
    result = run_audit(
        AuditInputs(shopify=w.client, peoplevox=w.pvx_client, ledger=w.ledger, rules=w.rules,
                    inbox_dir=tmp_path / "inbox", wanted_webhooks={}, wanted_callbacks={}, config_problems=[])
    )  # fmt: skip
    found: dict[str, list[Finding]] = {}
    for f in result.findings:
        if f.area in ("locations", "stock"):
            found.setdefault(f.area, []).append(f)
    return found


def test_audit_reads_sites_locations_and_drift_as_the_stock_flow_does(tmp_path: Path) -> None:
    """Both sandboxes and the stock flow's own ledger: what the stock flow would flag, the audit reports."""
    with stock_world(tmp_path) as w:
        w.full()
        found = _stock_audit(w, tmp_path)
        assert [(f.severity, f.title) for f in found["locations"]] == [
            (Severity.INFO, "1 of 1 stock.yaml site(s) publish to a Shopify location")
        ]
        assert [f.severity for f in found["stock"]] == [Severity.INFO, Severity.INFO]
        assert found["stock"][1].title.startswith("no stock drift: Shopify shows the target for all")

        # Wholesale's stock no longer set aside (stock.yaml), and stock on the Pop-up shop location
        # that no site feeds: Shopify may sell what the warehouse cannot see.
        w.rules = RULES.model_copy(update={"stock": RULES.stock.model_copy(update={"unpublished_sites": []})})
        w.shop.set_stock([StockSpec(sku="CAP-BLK-OS", available=3, location=POPUP)])
        # The daily complete read of Shopify (not an hourly one) is what pages unfed locations.
        with w.ledger.transaction() as con:
            cursors.put(con, FULL_READ_CURSOR, (datetime.now(UTC) - timedelta(hours=25)).isoformat())
        w.full()
        # Something else wrote Shopify for one SKU, and it has stayed wrong past the settle time.
        with w.ledger.transaction() as con:
            con.execute(
                "UPDATE stock_positions SET shopify_available = target - 4, last_pushed_at = ?, computed_at = ? "
                "WHERE sku = 'SOCK-BLK-OS'",
                [datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=30)] * 2,
            )
        found = _stock_audit(w, tmp_path)
        sites = {f.title: f.severity for f in found["locations"]}
        assert sites["Peoplevox site 'Wholesale' holds 600 available units and no Shopify location takes them "
                     "(add it to stock.yaml `locations` if the store should sell them)"] is Severity.WARNING  # fmt: skip
        assert any(t.startswith("Shopify location 'Pop-up shop' holds 3 available units") for t in sites)
        [drift] = [f for f in found["stock"] if f.title.startswith("stock drift")]
        assert drift.severity is Severity.WARNING and drift.title.startswith("stock drift: 1 of ")
        assert drift.detail[0].startswith("SOCK-BLK-OS at ") and "Shopify " in drift.detail[0]
        # The stock flow itself opened the same two mismatches (the audit only reads).
        assert {x.subject for x in w.ledger.list_open_exceptions("inventory_location_mismatch")} == {
            "site:Wholesale",
            "location:Pop-up shop",
        }

    # A stock.yaml location Shopify does not have: nothing is published for that site (critical).
    stock = RULES.stock.model_copy(
        update={"locations": {"PrimarySite": "Warehouse", "Wholesale": "Trade counter"}}
    )
    with stock_world(tmp_path / "renamed", RULES.model_copy(update={"stock": stock})) as w:
        found = _stock_audit(w, tmp_path)
        assert (Severity.CRITICAL, "stock.yaml sends site 'Wholesale' to Shopify location 'Trade counter', "
                "which Shopify does not have: nothing is published for that site") in [
            (f.severity, f.title) for f in found["locations"]]  # fmt: skip
        assert [f.title for f in found["stock"]] == [
            "no stock snapshot in the ledger yet: no stock drift to summarise"
        ]
