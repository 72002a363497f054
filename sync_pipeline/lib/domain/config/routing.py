"""`routing.yaml`: which Peoplevox site, channel, service type and priority an order gets.

Rules are tried in file order and the first match wins. Within a rule every condition given
must hold (AND); within one condition any listed value may match (OR). The last rule must be
the single `default: true` rule with no conditions and a complete route; other rules may leave
route fields out and inherit them from the default.

Route B2B only on what the merchant controls: customer tags, the Shopify B2B company or
company location (`b2b`, `companies`, `company_locations`), order tags, the sales channel
(`source_names`). Cart attributes (`attributes`) are set by whoever is on the storefront, so a
rule that matches on them lets any shopper choose the route: `trust_warnings()` names every
such rule and the loader reports it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, Strict

from .base import PeoplevoxName, RulesModel, SemanticProblem, Text


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class AttributeMatch(RulesModel):
    key: Text
    # None: the attribute only has to be present. Values compare case-insensitively.
    value: str | None = None


class RuleMatch(RulesModel):
    customer_tags: list[Text] = Field(default_factory=list)
    order_tags: list[Text] = Field(default_factory=list)
    # Shopify B2B: true matches an order placed for any company, false only a non-B2B order.
    b2b: bool | None = None
    # Company and company location names (case-insensitive), from `Order.purchasingEntity`.
    companies: list[Text] = Field(default_factory=list)
    company_locations: list[Text] = Field(default_factory=list)
    # Cart attributes: customer-settable (see the module docstring); the loader warns.
    attributes: list[AttributeMatch] = Field(default_factory=list)
    # Shopify `sourceName` values: "web", "pos", "shopify_draft_order", an app's id…
    source_names: list[Text] = Field(default_factory=list)
    # Case-insensitive substrings of the shipping line's code or title ("Express").
    shipping_contains: list[Text] = Field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.customer_tags
            or self.order_tags
            or self.b2b is not None
            or self.companies
            or self.company_locations
            or self.attributes
            or self.source_names
            or self.shipping_contains
        )


class RouteSpec(RulesModel):
    site: PeoplevoxName | None = None
    channel: PeoplevoxName | None = None
    service: PeoplevoxName | None = None
    priority: Annotated[Priority, Strict(False)] | None = None


class RoutingRule(RulesModel):
    name: Text
    default: bool = False
    match: RuleMatch = Field(default_factory=RuleMatch)
    route: RouteSpec


_ROUTE_FIELDS = ("site", "channel", "service", "priority")


class RoutingConfig(RulesModel):
    sites: list[PeoplevoxName] = Field(min_length=1)
    rules: list[RoutingRule] = Field(min_length=1)

    @property
    def default_rule(self) -> RoutingRule:
        return self.rules[-1]

    @property
    def reads_customer_tags(self) -> bool:
        """Some rule matches on customer tags: an order's must be read before it is routed."""
        return any(rule.match.customer_tags for rule in self.rules)

    def semantic_problems(self) -> list[SemanticProblem]:
        return [*self._site_problems(), *self._rule_problems()]

    def trust_warnings(self) -> list[SemanticProblem]:
        """Rules that a shopper can trigger: they match on cart attributes."""
        return [
            SemanticProblem(
                ("rules", index, "match", "attributes"),
                f"rule {rule.name!r} matches on cart attributes, which any shopper can set on the "
                "storefront; anyone could route an order this way. Match on customer_tags, b2b, "
                "companies, company_locations, order_tags or source_names instead",
            )
            for index, rule in enumerate(self.rules)
            if rule.match.attributes
        ]

    def _site_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        seen: set[str] = set()
        for index, site in enumerate(self.sites):
            if site in seen:
                problems.append(SemanticProblem(("sites", index), f"site {site!r} is listed twice"))
            seen.add(site)
        for index, rule in enumerate(self.rules):
            site = rule.route.site
            if site is not None and site not in seen:
                known = ", ".join(dict.fromkeys(self.sites))
                problems.append(
                    SemanticProblem(
                        ("rules", index, "route", "site"),
                        f"unknown site {site!r} in rule {rule.name!r}; known sites: {known}",
                    )
                )
        return problems

    def _rule_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        names: set[str] = set()
        defaults = [index for index, rule in enumerate(self.rules) if rule.default]
        for index, rule in enumerate(self.rules):
            if rule.name in names:
                problems.append(
                    SemanticProblem(("rules", index, "name"), f"rule name {rule.name!r} is used twice")
                )
            names.add(rule.name)
            if rule.default and not rule.match.is_empty():
                problems.append(
                    SemanticProblem(
                        ("rules", index, "match"), "the default rule applies to every order: remove `match`"
                    )
                )
            if not rule.default and rule.match.is_empty():
                problems.append(
                    SemanticProblem(
                        ("rules", index, "match"),
                        f"rule {rule.name!r} has no conditions; give it a `match` or make it the default",
                    )
                )
        if not defaults:
            problems.append(
                SemanticProblem(("rules",), "no default rule: the last rule must have `default: true`")
            )
            return problems
        for extra in defaults[1:]:
            problems.append(SemanticProblem(("rules", extra, "default"), "only one rule may be the default"))
        last = len(self.rules) - 1
        if defaults[0] != last:
            problems.append(
                SemanticProblem(
                    ("rules", defaults[0], "default"),
                    "the default rule must be last: rules after it could never match",
                )
            )
        default_route = self.rules[defaults[0]].route
        for field_name in _ROUTE_FIELDS:
            if getattr(default_route, field_name) is None:
                problems.append(
                    SemanticProblem(
                        ("rules", defaults[0], "route", field_name),
                        f"the default rule must set `{field_name}` (other rules inherit it)",
                    )
                )
        return problems
