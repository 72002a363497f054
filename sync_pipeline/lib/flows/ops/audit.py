"""`sync-pipeline audit`: is everything wired up and in step? Read-only against both systems and the ledger.

Each section gathers its facts (API calls first, then one short ledger read), and
`audit_rules.py` turns them into findings. A system that cannot be reached is itself a critical
finding; the sections that need it are skipped, the others still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.exception_catalogue import Owner
from sync_pipeline.lib.domain.impact import Priority
from sync_pipeline.lib.flows.ops.audit_rules import (
    Finding,
    Severity,
    coverage_findings,
    silence_findings,
    sku_coverage,
    subscription_findings,
    warehouse_setup_findings,
    webhook_findings,
)
from sync_pipeline.lib.flows.ops.audit_stock import site_findings, stock_facts, stock_findings
from sync_pipeline.lib.flows.ops.run import refresh
from sync_pipeline.lib.flows.stock.shopify_port import ShopifyStock
from sync_pipeline.lib.inbox import SOURCES, Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import subscriptions as ledger_subscriptions
from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxError
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.lib.shopify.errors import ShopifyError

# A few refused requests a day are scanners and misconfigured retries; more deserve a look.
REFUSALS_WORTH_A_LOOK = 100


@dataclass
class AuditInputs:
    shopify: ShopifyClient | None
    peoplevox: PeoplevoxClient | None
    ledger: Ledger | None
    rules: BusinessRules | None
    inbox_dir: Path
    # Shopify topic → receiver URL; Peoplevox event → redacted callback target (subscribe.py).
    wanted_webhooks: dict[str, str]
    wanted_callbacks: dict[str, str]
    config_problems: list[str]
    peoplevox_limit: str = ""


@dataclass
class AuditResult:
    findings: list[Finding] = field(default_factory=list)
    took_seconds: float = 0.0

    @property
    def critical(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.CRITICAL]


def run_audit(inputs: AuditInputs) -> AuditResult:
    started = time.monotonic()
    result = AuditResult()
    sections: list[Callable[[AuditInputs], list[Finding]]] = [
        _configuration,
        _shopify_webhooks,
        _peoplevox_subscriptions,
        _catalogue,
        _warehouse_setup,
        _sites_and_locations,
        _events,
        _ledger_state,
        _rate_limits,
    ]
    for section in sections:
        try:
            result.findings += section(inputs)
        except (ShopifyError, PeoplevoxError, httpx.HTTPError, OSError) as error:
            result.findings.append(
                Finding(Severity.CRITICAL, section.__name__.strip("_").replace("_", " "),
                        f"could not check: {type(error).__name__}: {str(error)[:200]}")
            )  # fmt: skip
    result.took_seconds = round(time.monotonic() - started, 1)
    return result


def _configuration(i: AuditInputs) -> list[Finding]:
    if i.config_problems:
        return [
            Finding(
                Severity.CRITICAL,
                "configuration",
                f"{len(i.config_problems)} configuration problem(s)",
                i.config_problems,
            )
        ]
    return [Finding(Severity.INFO, "configuration", "environment and business rules load without problems")]


def _unreachable(system: str) -> list[Finding]:
    return [Finding(Severity.CRITICAL, system, f"{system} not checked: its connection settings are missing")]


def _shopify_webhooks(i: AuditInputs) -> list[Finding]:
    if i.shopify is None:
        return _unreachable("Shopify")
    shop = i.shopify.shop()
    present = [(w.topic, w.uri) for w in i.shopify.list_webhook_subscriptions()]
    name = shop.get("name") or shop.get("myshopifyDomain") or "the store"
    return [
        Finding(Severity.INFO, "Shopify", f"reached {name}"),
        *webhook_findings(i.wanted_webhooks, present),
    ]


def _peoplevox_subscriptions(i: AuditInputs) -> list[Finding]:
    if i.peoplevox is None:
        return _unreachable("Peoplevox")
    i.peoplevox.authenticate()
    out = [Finding(Severity.INFO, "Peoplevox", "reached the Integration Service and authenticated")]
    rows: list[ledger_subscriptions.SubscriptionRow] = []
    if i.ledger is not None:  # no ledger yet: nothing was ever subscribed
        with i.ledger.transaction() as con:
            rows = [r for r in ledger_subscriptions.list_all(con) if r.system == "peoplevox"]
    return out + subscription_findings(i.wanted_callbacks, [(r.topic, r.target, r.active) for r in rows])


def _catalogue(i: AuditInputs) -> list[Finding]:
    if i.shopify is None or i.peoplevox is None or i.rules is None:
        return []
    skus = [v.sku for v in i.shopify.iter_product_variants()]
    codes = {row["ItemCode"] for row in i.peoplevox.iter_data("Item types")}
    coverage = sku_coverage(skus, codes, i.rules.sku_overrides.overrides, i.rules.bundles)
    return coverage_findings(coverage)


def _warehouse_setup(i: AuditInputs) -> list[Finding]:
    if i.peoplevox is None or i.rules is None:
        return []
    routing = i.rules.routing
    routes = [rule.route for rule in routing.rules]
    sites = set(routing.sites) | {r.site for r in routes if r.site}
    services = {r.service for r in routes if r.service}
    try:
        pvx_sites = {row.get("Reference", "") for row in i.peoplevox.iter_data("Sites")}
        pvx_services = {row.get("Name", "") for row in i.peoplevox.iter_data("Service types")}
    except PeoplevoxError as error:
        # A tenant exports only the templates configured under Integration → Integration Templates.
        return [Finding(Severity.WARNING, "sites", "could not read Peoplevox's Sites or Service types "
                        f"template (configure them to let the audit check routing.yaml): {str(error)[:160]}")]  # fmt: skip
    return warehouse_setup_findings(sites, services, pvx_sites - {""}, pvx_services - {""})


def _sites_and_locations(i: AuditInputs) -> list[Finding]:
    if i.shopify is None or i.rules is None:
        return []
    return site_findings(ShopifyStock(i.shopify), i.ledger, i.rules)


def _events(i: AuditInputs) -> list[Finding]:
    inbox = Inbox(i.inbox_dir)
    now = time.time()
    last: dict[str, float | None] = {}
    for source in SOURCES:
        arrived = inbox.last_arrival(source)
        last[source.capitalize()] = None if arrived is None else max(0.0, now - arrived) / 3600
    out = silence_findings(last)
    refused = inbox.rejections.count_since(now - 24 * 3600)
    if refused:
        out.append(
            Finding(
                Severity.WARNING if refused > REFUSALS_WORTH_A_LOOK else Severity.INFO,
                "events",
                f"{refused:,} request(s) refused by the receiver in the last 24 h (inbox/rejected.jsonl)",
            )
        )
    return out


def _ledger_state(i: AuditInputs) -> list[Finding]:
    if i.ledger is None:
        return [
            Finding(
                Severity.WARNING, "ledger", "no ledger file yet: nothing has run against this data directory"
            )
        ]
    if i.rules is None:
        return []
    now = datetime.now(UTC).replace(tzinfo=None)
    ranked = refresh(i.ledger, i.rules.ops, now, actor="audit", recheck=False).ranked
    stock = stock_facts(i.ledger, i.rules, now)
    out = [Finding(Severity.INFO, "ledger", f"schema version {i.ledger.schema_version()}")]
    p1 = [r for r in ranked if r.priority is Priority.P1]
    by_owner = ", ".join(f"{o.value} {sum(1 for r in ranked if r.owner == o.value)}" for o in Owner)
    out.append(
        Finding(Severity.WARNING if p1 else Severity.INFO, "exceptions",
                f"{len(ranked)} open exception(s), {len(p1)} top priority (P1)", [f"by owner: {by_owner}"]
                + [f"P1 #{r.exception_id} {r.kind} {r.order_name or r.subject} ({r.owner}), open {r.age_hours} h" for r in p1[:10]])
    )  # fmt: skip
    return out + stock_findings(stock, i.rules, now)


def _rate_limits(i: AuditInputs) -> list[Finding]:
    out = []
    if i.shopify is not None:
        pacer = i.shopify.transport.pacer
        available, maximum = pacer.estimate(), pacer.maximum
        stats = i.shopify.stats
        if available is not None and maximum:
            share = available / maximum
            out.append(
                Finding(Severity.WARNING if share < 0.2 else Severity.INFO, "rate limits",
                        f"Shopify cost bucket {available:,.0f} / {maximum:,.0f} points free ({share:.0%})",
                        [f"this audit: {stats.requests} requests, {stats.throttled} throttled"])
            )  # fmt: skip
    if i.peoplevox is not None and i.peoplevox_limit:
        out.append(Finding(Severity.INFO, "rate limits", f"Peoplevox limiter: {i.peoplevox_limit}"))
    return out
