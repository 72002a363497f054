"""`carriers.yaml`: Peoplevox carrier and service → Shopify's tracking company and a tracking URL.

Shopify builds the tracking link itself only when `company` is spelled exactly as in its list of
supported carriers (case matters); otherwise it shows the number with the URL we send. So each
rule names the company as Shopify spells it and a URL template with one `{tracking_number}`.
A rule without `service` matches every service of its carrier; one with a service wins over it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from pydantic import Field

from .base import RulesModel, SemanticProblem, Text

PLACEHOLDER = "{tracking_number}"
_BRACES = re.compile(r"\{[^{}]*\}")


class CarrierRule(RulesModel):
    peoplevox_carrier: Text
    peoplevox_service: Text | None = None
    shopify_company: Text
    tracking_url: Text | None = None


def url_template_problem(template: str) -> str | None:
    """Why a tracking URL template is unusable (None: it is fine)."""
    placeholders = _BRACES.findall(template)
    if placeholders != [PLACEHOLDER]:
        return f"must contain {PLACEHOLDER} exactly once and no other {{…}} (found {placeholders or 'none'})"
    parts = urlsplit(template.replace(PLACEHOLDER, "X"))
    if parts.scheme != "https" or not parts.netloc:
        return "must be an https:// address (customers open it from their shipping email)"
    if any(c.isspace() for c in template):
        return "must not contain spaces"
    return None


def tracking_url(template: str, number: str) -> str:
    """The template with the number filled in, URL-encoded (a number is the carrier's text, not ours)."""
    return template.replace(PLACEHOLDER, quote(number, safe=""))


class CarriersConfig(RulesModel):
    carriers: list[CarrierRule] = Field(default_factory=list)

    def semantic_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        seen: dict[tuple[str, str | None], int] = {}
        for index, rule in enumerate(self.carriers):
            key = (
                rule.peoplevox_carrier.casefold(),
                rule.peoplevox_service and rule.peoplevox_service.casefold(),
            )
            if key in seen:
                what = f"{rule.peoplevox_carrier!r}" + (
                    f" / {rule.peoplevox_service!r}" if rule.peoplevox_service else " (any service)"
                )
                problems.append(
                    SemanticProblem(("carriers", index), f"{what} is already mapped by rule {seen[key] + 1}")
                )
            seen.setdefault(key, index)
            if rule.tracking_url is not None:
                problem = url_template_problem(rule.tracking_url)
                if problem:
                    problems.append(SemanticProblem(("carriers", index, "tracking_url"), problem))
        return problems

    def rule_for(self, carrier: str | None, service: str | None) -> CarrierRule | None:
        """The most specific rule for a Peoplevox carrier and service (names compared ignoring case)."""
        if not carrier:
            return None
        folded, service_folded = carrier.strip().casefold(), (service or "").strip().casefold()
        general = None
        for rule in self.carriers:
            if rule.peoplevox_carrier.casefold() != folded:
                continue
            if rule.peoplevox_service is None:
                general = general or rule
            elif rule.peoplevox_service.casefold() == service_folded:
                return rule
        return general
