"""A package's tracking details as Shopify should show them (rules in `carriers.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass

from .config.carriers import CarriersConfig, tracking_url


@dataclass(frozen=True)
class Tracking:
    company: str | None
    number: str | None
    url: str | None
    known_carrier: bool  # False: no carriers.yaml rule; sent under Peoplevox's own name, without a link


def tracking_for(
    carriers: CarriersConfig, carrier: str | None, service: str | None, number: str | None
) -> Tracking:
    number = (number or "").strip() or None
    rule = carriers.rule_for(carrier, service)
    if rule is None:
        return Tracking((carrier or "").strip() or None, number, None, known_carrier=not carrier)
    url = tracking_url(rule.tracking_url, number) if rule.tracking_url and number else None
    return Tracking(rule.shopify_company, number, url, known_carrier=True)
