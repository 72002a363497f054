"""Shared pieces of every rules model: strict parsing, text types, and deferred cross-field checks.

Models are strict (a YAML `12345` is not silently a SKU string; `"2"` is not a quantity) and
reject unknown keys, so a typo fails loudly instead of being ignored.

Checks that span several fields (cycles, unknown sites, duplicates that YAML cannot see) live
in `semantic_problems()`, returning key paths. Built from Python, a model raises on them at
once; the loader passes `DEFER_CHECKS` and calls `semantic_problems()` itself so it can turn
each path into a file line.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, model_validator

from .errors import KeyPath, format_key_path

DEFER_CHECKS: dict[str, Any] = {"defer_semantic_checks": True}


@dataclass(frozen=True)
class SemanticProblem:
    key_path: KeyPath
    message: str


class RulesModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def semantic_problems(self) -> list[SemanticProblem]:
        return []

    @model_validator(mode="after")
    def _check_semantics(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get("defer_semantic_checks"):
            return self
        found = self.semantic_problems()
        if found:
            raise ValueError("; ".join(f"{format_key_path(p.key_path)}: {p.message}" for p in found))
        return self


def _has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def _clean_text(value: str) -> str:
    # Whitespace at the ends of a SKU or site name is invisible in the file and makes an exact
    # match fail in production, so it is an error rather than something we quietly strip.
    if not value.strip():
        raise ValueError("must not be blank")
    if value != value.strip():
        raise ValueError(f"{value!r} has spaces at the start or end")
    if _has_control_characters(value):
        raise ValueError(f"{value!r} contains control characters (tab, newline…)")
    return value


_SIMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _./&-]*$")


def _simple_name(value: str) -> str:
    _clean_text(value)
    if not _SIMPLE_NAME.match(value):
        raise ValueError(f"{value!r} may use only letters, digits, spaces and _ . / & -")
    return value


# A Shopify SKU or a Peoplevox item code: exact text, matched case-sensitively.
Sku = Annotated[str, AfterValidator(_clean_text)]
ItemCode = Annotated[str, AfterValidator(_clean_text)]
# Free text that must be present (tag, attribute key, rule name…).
Text = Annotated[str, AfterValidator(_clean_text)]
# Names sent to Peoplevox as CSV values (site, channel, service type).
PeoplevoxName = Annotated[str, AfterValidator(_simple_name)]
