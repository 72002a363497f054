"""Which Shopify location a package is fulfilled from: the one `stock.yaml` maps its Peoplevox site to.

The warehouse shipped the parcel, so Shopify must record the fulfilment at the warehouse's location
(a fulfilment takes its units off the stock of the location it is made at). `stock.yaml` names
locations as the Shopify admin shows them; a run that has packages to plan reads Shopify's active
locations once and resolves those names to ids. A name Shopify has no active location for is one
`fulfilment_location_unknown` exception (integration) per name, not one per package (names match
as `domain.location_names` says): packages from
that site are then fulfilled where Shopify assigned their lines, and the exception says so. It
closes in the first run that finds the name.
"""

from __future__ import annotations

from collections.abc import Mapping

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.location_names import match_name
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.ports import Storefront
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions

UNKNOWN = "fulfilment_location_unknown"
SUBJECT = "location:"


def warehouse_locations(
    shopify_locations: Mapping[str, str], rules: BusinessRules
) -> tuple[dict[str, str], list[ExceptionRecord]]:
    """Peoplevox site → Shopify location id (from active location name → id), and an exception for
    each name `stock.yaml` maps a site to that matches none (`domain.location_names`: exactly, else
    the one name alike as the admin shows it; several alike is no match)."""
    found: dict[str, str] = {}
    problems: list[ExceptionRecord] = []
    for site, name in rules.stock.locations.items():
        match = match_name(name, shopify_locations)
        if match.found is not None:
            found[site] = match.found
            continue
        why = (
            "which Shopify has no active location for"
            if not match.ambiguous
            else "which Shopify has no active location named exactly, and several named alike: "
            + ", ".join(repr(n) for n in match.ambiguous)
            + " (use the exact name)"
        )
        problems.append(
            ExceptionRecord(
                kind=UNKNOWN,
                owner=states.OWNERS[UNKNOWN],
                message=f"stock.yaml maps Peoplevox site {site!r} to Shopify location {name!r}, {why}: packages "
                "despatched from that site are fulfilled wherever Shopify assigned their lines, and that "
                "location's stock goes down instead of the warehouse's",
                subject=f"{SUBJECT}{name}",
            )
        )
    return found, problems


def read_warehouse_locations(
    storefront: Storefront, ledger: Ledger, rules: BusinessRules, report: FulfilReport
) -> dict[str, str]:
    """Resolve `stock.yaml`'s sites against Shopify's locations, opening (or closing) the exceptions."""
    if not rules.stock.locations:
        return {}
    found, problems = warehouse_locations(storefront.locations(), rules)
    unknown = {p.subject for p in problems}
    with ledger.transaction() as con:
        report.exceptions_opened += ledger_exceptions.open_or_touch(con, problems)
        for name in {n for n in rules.stock.locations.values() if f"{SUBJECT}{n}" not in unknown}:
            ledger_exceptions.resolve_for_subject(
                con, [UNKNOWN], f"{SUBJECT}{name}", "the name matches a Shopify location"
            )
    return found
