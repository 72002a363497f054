"""`sync-pipeline audit`: read-only check of both systems and the ledger; exits 1 on a critical finding.

Checks: configuration, Shopify webhooks and Peoplevox subscriptions pointing at the receiver, SKU
mapping both ways, sites and locations, when each source last sent an event, open exceptions,
stock snapshots, rate-limit headroom. The report goes to data/exports/audit/.
"""

from __future__ import annotations

import argparse
import contextlib
from datetime import UTC, datetime

from sync_pipeline.config_cli import check_business_rules
from sync_pipeline.lib.domain.config import ConfigError, load_business_rules
from sync_pipeline.lib.flows.ops import audit_report
from sync_pipeline.lib.flows.ops.audit import AuditInputs, run_audit
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.peoplevox import PeoplevoxClient
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.settings import PeoplevoxSettings, ShopifySettings, SyncSettings, load_all
from sync_pipeline.subscribe import wanted_subscriptions


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="sync-pipeline audit", description=__doc__)
    parser.parse_args(argv)
    loaded, problems = load_all()
    sync = loaded.get("sync")
    if not isinstance(sync, SyncSettings):
        sync = SyncSettings.model_construct()  # defaults only: the problems say what is wrong
    problems += check_business_rules(sync.rules_dir)
    rules = None
    with contextlib.suppress(ConfigError):
        rules = load_business_rules(sync.rules_dir)
    if sync.callback_token is None:
        problems.append("SYNC_CALLBACK_TOKEN is not set: Peoplevox callbacks cannot be received")
    token = sync.callback_token.get_secret_value() if sync.callback_token else "x" * 32
    wanted = wanted_subscriptions(sync.receiver_public_url, token)
    shop_settings, pvx_settings = loaded.get("shopify"), loaded.get("peoplevox")
    shopify = (
        ShopifyClient(shop_settings.shop_url, shop_settings.access_token.get_secret_value(),
                      api_version=shop_settings.api_version, bulk_threshold=shop_settings.bulk_threshold)
        if isinstance(shop_settings, ShopifySettings) else None
    )  # fmt: skip
    peoplevox = (
        PeoplevoxClient(pvx_settings.base_url, pvx_settings.client_id, pvx_settings.username,
                        pvx_settings.password.get_secret_value(), requests_per_window=pvx_settings.requests_per_window,
                        window_seconds=pvx_settings.window_seconds, pacer=pvx_settings.shared_pacer(sync.data_dir))
        if isinstance(pvx_settings, PeoplevoxSettings) else None
    )  # fmt: skip
    limit = (
        f"{pvx_settings.requests_per_window} requests per {pvx_settings.window_seconds:g} s (configured)"
        if isinstance(pvx_settings, PeoplevoxSettings)
        else ""
    )
    inputs = AuditInputs(
        shopify=shopify,
        peoplevox=peoplevox,
        ledger=Ledger(sync.ledger_path, busy_timeout=15.0) if sync.ledger_path.exists() else None,
        rules=rules,
        inbox_dir=sync.inbox_dir,
        wanted_webhooks={w.topic: w.url for w in wanted if w.system == "shopify"},
        wanted_callbacks={w.topic: w.target for w in wanted if w.system == "peoplevox"},
        config_problems=problems,
        peoplevox_limit=limit,
    )
    try:
        result = run_audit(inputs)
    finally:
        for client in (shopify, peoplevox):
            if client is not None:
                client.close()
    at = datetime.now(UTC).replace(tzinfo=None)
    path = audit_report.write(result, sync.exports_dir, at, sync.brand)
    print(audit_report.summary(result))
    print(f"\n{len(result.critical)} critical finding(s); report: {path}")
    return 1 if result.critical else 0
