"""Sites and locations that do not pair up: `inventory_location_mismatch` for warehouse ops.

- `stock.yaml` maps a site to a Shopify location Shopify does not have.
- A Peoplevox site holds stock and no Shopify location takes it (not in `stock.yaml`).
- A Shopify location no site feeds holds inventory of SKUs we publish: Shopify would sell stock the
  warehouse cannot see. Checking it pages every level at every such location, so only the complete
  (daily) read of Shopify does it, not every hourly reconcile.
Each is resolved by the first run that checked and no longer finds it; until the next complete read
an unfed location's exception stays as it was (no run has looked).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.location_names import comparable, match_name
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.ports import Location, Storefront
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions

KIND = states.LOCATION_MISMATCH
# A problem's subject names what it is about; `record` reads a location's name back out of it.
_LOCATION: Final = "location:"
_SITE: Final = "site:"


def location_subject(name: str) -> str:
    return f"{_LOCATION}{name}"


def location_named(subject: str) -> str | None:
    """The Shopify location name in a `location_subject`; None for any other subject."""
    return subject[len(_LOCATION) :] if subject.startswith(_LOCATION) else None


def site_subject(site: str) -> str:
    return f"{_SITE}{site}"


def _problem(subject: str, message: str) -> ExceptionRecord:
    return ExceptionRecord(kind=KIND, owner=states.OWNERS[KIND], message=message, subject=subject)


def resolve_locations(
    locations: list[Location], rules: BusinessRules
) -> tuple[dict[str, str], list[ExceptionRecord]]:
    """Site → Shopify location id, and a problem for each mapped name Shopify does not have."""
    by_name = {loc.name: loc for loc in locations}
    mapped, problems = {}, []
    for site, name in rules.stock.locations.items():
        match = match_name(name, by_name)  # exactly, else the one alike (as despatches match it)
        loc = match.found
        if loc is None:
            alike = ", ".join(repr(n) for n in match.ambiguous)
            problems.append(
                _problem(
                    location_subject(name),
                    f"stock.yaml sends site {site!r} to Shopify location {name!r}, "
                    + (f"which Shopify has several locations named alike: {alike} (use the exact name)"
                       if alike else "which Shopify does not have")
                    + ": nothing is published for that site",
                )
            )  # fmt: skip
        else:
            mapped[site] = loc.id
    # Two sites resolving to one location (names stock.yaml's check did not see as one, or rules
    # built in code): each (SKU, location) would show whichever site came last, another site's
    # stock. Neither is published there until the mapping is fixed.
    by_location: dict[str, list[str]] = {}
    for site, location_id in mapped.items():
        by_location.setdefault(location_id, []).append(site)
    for location_id, sites in by_location.items():
        if len(sites) > 1:
            name = next(loc.name for loc in locations if loc.id == location_id)
            problems.append(
                _problem(
                    location_subject(name),
                    f"stock.yaml sends sites {', '.join(repr(s) for s in sites)} to one Shopify location "
                    f"{name!r}; a location's available can follow one site only: nothing is published there",
                )
            )
            for site in sites:
                del mapped[site]
    return mapped, problems


def unmapped_sites(site_totals: Mapping[str, int], rules: BusinessRules) -> list[ExceptionRecord]:
    return [
        _problem(
            site_subject(site),
            f"Peoplevox site {site!r} holds {total:,} available units and no Shopify location takes them "
            "(add it to stock.yaml `locations` if the store should sell them)",
        )
        for site, total in site_totals.items()
        if total > 0 and site not in rules.stock.locations and site not in rules.stock.unpublished_sites
    ]


def unmapped_locations_holding_stock(
    storefront: Storefront, locations: list[Location], mapped_ids: Collection[str], our_items: Collection[str]
) -> list[ExceptionRecord]:
    problems = []
    wanted = set(our_items)
    for loc in locations:
        if loc.id in mapped_ids or not loc.active:
            continue
        held = [lv for lv in storefront.levels_updated_since(loc.id, None)
                if lv.inventory_item_id in wanted and (lv.available or 0) > 0]  # fmt: skip
        if held:
            units = sum(lv.available or 0 for lv in held)
            problems.append(
                _problem(
                    location_subject(loc.name),
                    f"Shopify location {loc.name!r} holds {units:,} available units "
                    f"of {len(held):,} SKUs we publish, but no Peoplevox site feeds it: Shopify may sell "
                    "stock the warehouse does not have (map it in stock.yaml or zero it in Shopify)",
                )
            )
    return problems


def record(
    con: duckdb.DuckDBPyConnection,
    problems: list[ExceptionRecord],
    complete: bool,
    rules: BusinessRules,
    unfed_checked: bool,
) -> int:
    """Open or touch `problems`; after a complete check (`complete`), resolve the open ones not found,
    except unfed locations' when this run did not look at them (`unfed_checked` false)."""
    found = {p.subject for p in problems}
    mapped = {comparable(name) for name in rules.stock.locations.values()}
    ledger_exceptions.open_or_touch(con, problems)
    if complete:
        for _, subject in ledger_exceptions.open_subjects(con, [KIND]):
            # A `location:` subject naming a mapped location is stock.yaml's (checked every run);
            # any other is an unfed location, known only to the run that paged its levels.
            location = location_named(subject)
            unfed = location is not None and comparable(location) not in mapped
            if subject not in found and (unfed_checked or not unfed):
                ledger_exceptions.resolve_for_subject(con, [KIND], subject, "no longer found")
    return len(problems)
