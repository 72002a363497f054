"""The audit's stock sections, read the way the stock flow reads them (no second copy of its rules).

- Sites ↔ locations: `lib/flows/stock/mismatch.py`'s own three checks (a `stock.yaml` location
  Shopify lacks, a Peoplevox site holding stock nobody publishes, a Shopify location no site feeds
  holding stock of SKUs we publish), on Shopify's locations now and the stock flow's last accepted
  figures. Found, not recorded: the audit is read-only; the stock flow opens the exceptions.
- Stock drift: `stock_levels.drifted` with `stock.yaml`'s tolerance and settle time (what the
  `stock_drift` check reports), the last snapshot's age and verdict, and suspect feeds waiting for
  a person (`sync-pipeline stock accept`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.ops.audit_rules import Finding, Severity
from sync_pipeline.lib.flows.stock import mismatch
from sync_pipeline.lib.flows.stock.ports import Location, Storefront
from sync_pipeline.lib.ledger import Ledger, stock_levels, stock_snapshots
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger.records import ExceptionRecord
from sync_pipeline.lib.ledger.stock_levels import PositionRow
from sync_pipeline.lib.ledger.stock_snapshots import Snapshot

# A full snapshot is taken every hour; older than this, the store's stock is going stale.
SNAPSHOT_STALE = timedelta(hours=2)
WORST = 10


def site_findings(storefront: Storefront, ledger: Ledger | None, rules: BusinessRules) -> list[Finding]:
    locations: list[Location] = storefront.locations()
    active = [loc.name for loc in locations if loc.active]
    detail = [
        f"stock.yaml: Peoplevox site {site} → Shopify location {name}"
        for site, name in rules.stock.locations.items()
    ]
    detail += [f"stock.yaml: site {site} not published" for site in rules.stock.unpublished_sites]
    detail.append(f"Shopify locations: {', '.join(active) or '(none)'}")
    if not active:
        return [
            Finding(Severity.CRITICAL, "locations", "Shopify has no active location to fulfil from", detail)
        ]
    mapped, missing = mismatch.resolve_locations(locations, rules)
    site_totals: dict[str, int] = {}
    published: set[str] = set()
    if ledger is not None:
        with ledger.transaction() as con:  # the ledger read first, closed before Shopify is asked again
            site_totals = stock_snapshots.accepted_site_totals(con)
            published = {
                v.inventory_item_id for v in ledger_catalogue.stocked_variants(con) if v.inventory_item_id
            }
    unfed = mismatch.unmapped_sites(site_totals, rules)
    unfed += mismatch.unmapped_locations_holding_stock(storefront, locations, mapped.values(), published)
    out = [
        Finding(
            Severity.INFO,
            "locations",
            f"{len(mapped)} of {len(rules.stock.locations)} stock.yaml site(s) publish to a Shopify location",
            detail,
        )
    ]
    out += _problems(missing, Severity.CRITICAL)  # nothing is published for that site
    out += _problems(unfed, Severity.WARNING)
    return out


def _problems(problems: Sequence[ExceptionRecord], severity: Severity) -> list[Finding]:
    return [Finding(severity, "locations", p.message, [f"{p.kind} ({p.subject})"]) for p in problems]


@dataclass(frozen=True)
class StockFacts:
    last: Snapshot | None
    suspect: list[Snapshot]
    drifting: int
    worst: list[PositionRow]
    totals: dict[str, int]


def stock_facts(ledger: Ledger, rules: BusinessRules, now: datetime) -> StockFacts:
    settled_before = now - timedelta(minutes=rules.stock.drift_settle_minutes)
    with ledger.transaction() as con:
        last = stock_snapshots.latest(con, limit=1)
        count, worst = stock_levels.drifted(con, settled_before, rules.stock.drift_tolerance_units, WORST)
        return StockFacts(
            last[0] if last else None,
            stock_snapshots.suspects(con),
            count,
            worst,
            stock_levels.position_totals(con),
        )


def stock_findings(facts: StockFacts, rules: BusinessRules, now: datetime) -> list[Finding]:
    if facts.last is None:
        return [
            Finding(
                Severity.INFO, "stock", "no stock snapshot in the ledger yet: no stock drift to summarise"
            )
        ]
    age = now - facts.last.taken_at
    out = [
        Finding(
            Severity.WARNING if age > SNAPSHOT_STALE else Severity.INFO,
            "stock",
            f"last stock snapshot {age.total_seconds() / 3600:.1f} h ago ({facts.last.kind}, {facts.last.verdict}, "
            f"{facts.last.rows_read:,} rows)",
        )
    ]
    if facts.suspect:
        out.append(
            Finding(
                Severity.WARNING,
                "stock",
                f"{len(facts.suspect)} suspect stock feed(s) waiting for a person: nothing is pushed to Shopify "
                "until one is accepted (`sync-pipeline stock accept`) or a plausible snapshot follows",
                [
                    f"snapshot {s.snapshot_id} at {s.taken_at:%Y-%m-%d %H:%M}: {s.verdict_reason}"
                    for s in facts.suspect[:WORST]
                ],
            )
        )
    stock = rules.stock
    listings = facts.totals.get("listings", 0)
    if facts.drifting:
        out.append(
            Finding(
                Severity.WARNING,
                "stock",
                f"stock drift: {facts.drifting:,} of {listings:,} SKU-location(s) differ in Shopify from their target "
                f"by more than {stock.drift_tolerance_units} unit(s) after {stock.drift_settle_minutes} min",
                [f"{p.sku} at {p.location_id.rsplit('/', 1)[-1]}: target {p.target}, Shopify {p.shopify_available} "
                 f"(last push {p.last_outcome or '—'})" for p in facts.worst],
            )
        )  # fmt: skip
    else:
        out.append(
            Finding(
                Severity.INFO,
                "stock",
                f"no stock drift: Shopify shows the target for all {listings:,} SKU-location(s)",
            )
        )
    return out
