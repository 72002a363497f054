"""The audit's judgements: facts in, findings out (pure; `audit.py` gathers the facts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from enum import StrEnum

from sync_pipeline.lib.domain.bundles import expand_bundle
from sync_pipeline.lib.domain.config.bundles import BundlesConfig
from sync_pipeline.lib.domain.mapping import Mapped, map_sku

EXAMPLES = 20


class Severity(StrEnum):
    CRITICAL = "critical"  # the sync is broken or blind: `audit` exits non-zero
    WARNING = "warning"  # something will hold orders or slow the sync
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    area: str
    title: str
    detail: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Coverage:
    shopify_skus: int
    item_codes: int
    unmapped_skus: list[str]  # Shopify SKUs (or bundle components) with no item type
    unsold_item_codes: list[str]  # item types no Shopify SKU reaches
    variants_without_sku: int


def sku_coverage(
    variant_skus: Sequence[str | None],
    item_codes: Set[str],
    overrides: Mapping[str, str],
    bundles: BundlesConfig,
) -> Coverage:
    """Both ways: every Shopify SKU reaches an item type (through overrides and bundles), and which
    item types no Shopify SKU reaches."""
    unmapped: set[str] = set()
    reached: set[str] = set()
    skus = [s for s in variant_skus if s]
    for sku in sorted(set(skus)):
        for target, _ in expand_bundle(sku, 1, bundles):
            result = map_sku(target, item_codes, overrides)
            if isinstance(result, Mapped):
                reached.add(result.item_code)
            else:
                unmapped.add(target)
    return Coverage(
        shopify_skus=len(set(skus)),
        item_codes=len(item_codes),
        unmapped_skus=sorted(unmapped),
        unsold_item_codes=sorted(item_codes - reached),
        variants_without_sku=len(variant_skus) - len(skus),
    )


def coverage_findings(c: Coverage) -> list[Finding]:
    out = [
        Finding(
            Severity.INFO,
            "catalogue",
            f"{c.shopify_skus:,} Shopify SKUs, {c.item_codes:,} Peoplevox item types; "
            f"{c.shopify_skus - len(c.unmapped_skus):,} SKUs map",
        )
    ]
    if c.unmapped_skus:
        out.append(
            Finding(
                Severity.WARNING,
                "catalogue",
                f"{len(c.unmapped_skus):,} Shopify SKU(s) map to no Peoplevox item type: their orders will be held",
                [f"`{s}`" for s in c.unmapped_skus[:EXAMPLES]] + _more(c.unmapped_skus),
            )
        )
    if c.unsold_item_codes:
        out.append(
            Finding(
                Severity.INFO,
                "catalogue",
                f"{len(c.unsold_item_codes):,} Peoplevox item type(s) no Shopify SKU reaches (their stock is never pushed)",
                [f"`{s}`" for s in c.unsold_item_codes[:EXAMPLES]] + _more(c.unsold_item_codes),
            )
        )
    if c.variants_without_sku:
        out.append(
            Finding(
                Severity.WARNING,
                "catalogue",
                f"{c.variants_without_sku:,} Shopify variant(s) have no SKU: an order for one is held",
            )
        )
    return out


def _more(items: Sequence[str]) -> list[str]:
    return [f"… and {len(items) - EXAMPLES:,} more"] if len(items) > EXAMPLES else []


def webhook_findings(wanted: Mapping[str, str], present: Sequence[tuple[str, str]]) -> list[Finding]:
    """`wanted`: topic → the receiver URL; `present`: (topic, uri) of every webhook in the store."""
    out: list[Finding] = []
    by_topic: dict[str, list[str]] = {}
    for topic, uri in present:
        by_topic.setdefault(topic, []).append(uri)
    for topic, url in wanted.items():
        uris = by_topic.get(topic, [])
        if url in uris:
            continue
        if uris:
            out.append(
                Finding(Severity.CRITICAL, "webhooks", f"Shopify webhook {topic} points elsewhere, not at the receiver",
                        [f"points at {u}" for u in uris] + [f"expected {url}; run `sync-pipeline subscribe`"])
            )  # fmt: skip
        else:
            out.append(
                Finding(Severity.CRITICAL, "webhooks", f"Shopify webhook {topic} is missing",
                        [f"expected {url}; run `sync-pipeline subscribe`"])
            )  # fmt: skip
    others = [f"{t} → {u}" for t, u in present if u not in wanted.values()]
    if others:
        out.append(Finding(Severity.INFO, "webhooks", f"{len(others)} other webhook(s) in the store", others))
    if not out or all(f.severity is Severity.INFO for f in out):
        out.insert(
            0, Finding(Severity.INFO, "webhooks", f"all {len(wanted)} Shopify webhooks point at the receiver")
        )
    return out


def subscription_findings(
    wanted: Mapping[str, str], recorded: Sequence[tuple[str, str, bool]]
) -> list[Finding]:
    """`wanted`: event → redacted target; `recorded`: (event, target, active) from the ledger.

    Peoplevox cannot list its subscriptions, so the ledger's record is what can be checked."""
    out: list[Finding] = []
    active = {(event, target) for event, target, is_active in recorded if is_active}
    for event, target in wanted.items():
        if (event, target) in active:
            continue
        elsewhere = [t for e, t in active if e == event]
        out.append(
            Finding(
                Severity.CRITICAL,
                "subscriptions",
                f"Peoplevox {event} callback " + ("points elsewhere" if elsewhere else "is not subscribed"),
                [f"recorded: {t}" for t in elsewhere] + [f"expected {target}; run `sync-pipeline subscribe`"],
            )
        )
    if not out:
        out.append(
            Finding(
                Severity.INFO,
                "subscriptions",
                f"all {len(wanted)} Peoplevox callbacks are recorded as subscribed to the receiver",
            )
        )
    return out


def silence_findings(last_seen_hours: Mapping[str, float | None], quiet_hours: float = 24) -> list[Finding]:
    out = []
    for source, hours in last_seen_hours.items():
        if hours is None:
            out.append(
                Finding(Severity.WARNING, "events", f"{source} has never sent an event to this receiver")
            )
        elif hours > quiet_hours:
            out.append(Finding(Severity.WARNING, "events", f"{source} last sent an event {hours:.1f} h ago"))
        else:
            out.append(Finding(Severity.INFO, "events", f"{source} last sent an event {hours:.1f} h ago"))
    return out


def warehouse_setup_findings(
    routed_sites: Set[str], routed_services: Set[str], pvx_sites: Set[str], pvx_services: Set[str]
) -> list[Finding]:
    """routing.yaml's sites and service types against what Peoplevox has: an order routed to a site
    or service Peoplevox does not know is refused at injection, every one of them."""
    out: list[Finding] = []
    for what, wanted, present in (
        ("site", routed_sites, pvx_sites),
        ("service type", routed_services, pvx_services),
    ):
        missing = sorted(wanted - present)
        if missing:
            out.append(
                Finding(
                    Severity.CRITICAL,
                    "sites",
                    f"routing.yaml names {len(missing)} {what}(s) Peoplevox does not have: their orders will be refused",
                    [f"`{m}`" for m in missing]
                    + [f"Peoplevox has: {', '.join(sorted(present)) or '(none)'}"],
                )
            )
        else:
            out.append(
                Finding(
                    Severity.INFO,
                    "sites",
                    f"every {what} in routing.yaml exists in Peoplevox ({len(wanted)})",
                )
            )
    return out
