"""A package's tracking details as Shopify should show them (rules in `carriers.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .config.carriers import CarriersConfig, tracking_url


@dataclass(frozen=True)
class Tracking:
    company: str | None
    number: str | None
    url: str | None
    known_carrier: bool  # False: no carriers.yaml rule; sent under Peoplevox's own name, without a link
    # Pooled parcels (bundle parts this package completes) whose numbers ride on its fulfilment.
    carried: tuple[Tracking, ...] = ()

    def numbers_and_urls(self) -> tuple[list[str], list[str]]:
        """Every number the fulfilment carries (this parcel's first, then the pooled parcels' in
        despatch order), and their links. Shopify pairs `urls[i]` with `numbers[i]`, so numbers with a
        link come first and those without (an unknown carrier's) after them, never a link out of step."""
        # A number two parcels share (a carrier's one consignment number) is listed once, with one
        # link (the first parcel's that has one): dropping the number but not its link shifted every
        # later link onto another parcel's number (until 2026-12-01).
        first: dict[str, Tracking] = {}
        for t in (self, *self.carried):
            if t.number and (t.number not in first or (t.url and not first[t.number].url)):
                first[t.number] = t
        parcels = list(first.values())
        ordered = [t for t in parcels if t.url] + [t for t in parcels if not t.url]
        return [t.number for t in ordered if t.number], [t.url for t in ordered if t.url]


def carrying(own: Tracking | None, pooled: tuple[Tracking, ...]) -> Tracking | None:
    """`own` carrying the pooled parcels' tracking. One carrier per fulfilment (Shopify's
    `company`): the carrying parcel's own, so the shipping email names the parcel it announces;
    the pooled parcels' numbers keep their own carriers' links (`urls`). Only when the carrying
    parcel names no carrier does the first pooled parcel's name it."""
    if not pooled:
        return own
    base = own or Tracking(None, None, None, known_carrier=True)
    company = base.company or next((t.company for t in pooled if t.company), None)
    return replace(base, company=company, carried=pooled)


def tracking_for(
    carriers: CarriersConfig, carrier: str | None, service: str | None, number: str | None
) -> Tracking:
    number = (number or "").strip() or None
    rule = carriers.rule_for(carrier, service)
    if rule is None:
        return Tracking((carrier or "").strip() or None, number, None, known_carrier=not carrier)
    url = tracking_url(rule.tracking_url, number) if rule.tracking_url and number else None
    return Tracking(rule.shopify_company, number, url, known_carrier=True)
