"""Choose the Peoplevox site, channel, service type and priority for an order.

First matching rule wins; the default rule (always last, validated at load) catches the rest,
so exactly one rule applies to every order. Fields a rule leaves out come from the default.
Tags, attribute keys and values, source names and shipping text compare case-insensitively.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from .config.routing import Priority, RoutingConfig, RoutingRule, RuleMatch
from .models import ShopOrder


class Route(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str
    channel: str
    service: str
    priority: Priority
    rule_name: str


def _folded(values: Iterable[str | None]) -> set[str]:
    return {value.strip().casefold() for value in values if value}


def rule_matches(match: RuleMatch, order: ShopOrder) -> bool:
    """Every condition given holds; an empty match never matches (only the default has one)."""
    if match.is_empty():
        return False
    # Tags not read yet (None) match nothing. Release reads them before it routes
    # (`flows/orders/customer_tags.py`); only a stock estimate of an order not yet due sees None.
    if match.customer_tags and not _folded(match.customer_tags) & _folded(order.customer_tags or ()):
        return False
    if match.order_tags and not _folded(match.order_tags) & _folded(order.tags):
        return False
    if match.b2b is not None and match.b2b != (order.b2b_company is not None):
        return False
    if match.companies and not _folded(match.companies) & _folded([order.b2b_company]):
        return False
    if match.company_locations and not _folded(match.company_locations) & _folded(
        [order.b2b_company_location]
    ):
        return False
    if match.source_names and (order.source_name or "").strip().casefold() not in _folded(match.source_names):
        return False
    if match.shipping_contains:
        shipping = f"{order.shipping_line_code or ''}\n{order.shipping_line_title or ''}".casefold()
        if not any(text.casefold() in shipping for text in match.shipping_contains):
            return False
    if match.attributes:
        present = {
            (a.key.strip().casefold(), (a.value or "").strip().casefold()) for a in order.custom_attributes
        }
        keys = {key for key, _ in present}
        wanted = (
            (a.key.casefold() in keys)
            if a.value is None
            else (a.key.casefold(), a.value.strip().casefold()) in present
            for a in match.attributes
        )
        if not any(wanted):
            return False
    return True


def matching_rule(order: ShopOrder, routing: RoutingConfig) -> RoutingRule:
    for rule in routing.rules:
        if rule.default or rule_matches(rule.match, order):
            return rule
    return routing.default_rule  # unreachable for validated rules: the last rule is the default


def choose_route(order: ShopOrder, routing: RoutingConfig) -> Route:
    rule = matching_rule(order, routing)
    base = routing.default_rule.route
    own = rule.route
    return Route(
        site=own.site or base.site or "",
        channel=own.channel or base.channel or "",
        service=own.service or base.service or "",
        priority=own.priority or base.priority or Priority.NORMAL,
        rule_name=rule.name,
    )
