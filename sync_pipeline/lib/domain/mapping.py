"""Shopify SKU → Peoplevox item code.

Exact text only: an override from `sku_overrides.yaml` first, otherwise the SKU must itself be
a Peoplevox item code. Near misses (case, surrounding spaces) are never mapped automatically,
because a wrong item picked is worse than an order held; they only make the message helpful.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum

from .text import unsendable_character


class UnmappedReason(StrEnum):
    BLANK_SKU = "blank_sku"
    UNKNOWN_SKU = "unknown_sku"
    OVERRIDE_TARGET_UNKNOWN = "override_target_unknown"
    UNSENDABLE = "unsendable"


@dataclass(frozen=True)
class Mapped:
    sku: str
    item_code: str
    via_override: bool


@dataclass(frozen=True)
class Unmapped:
    sku: str | None
    reason: UnmappedReason
    message: str


def map_sku(sku: str | None, known_item_codes: Set[str], overrides: Mapping[str, str]) -> Mapped | Unmapped:
    if sku is None or not sku.strip():
        return Unmapped(sku, UnmappedReason.BLANK_SKU, "the line has no SKU")
    override = overrides.get(sku)
    for field, code in (("SKU", sku), ("override item code", override)):
        bad = unsendable_character(code) if code is not None else None
        if bad is not None:
            # No Peoplevox request can carry it, so no item type can have it; never cleaned up,
            # because a changed SKU would pick a different item.
            return Unmapped(
                sku,
                UnmappedReason.UNSENDABLE,
                f"{field} {code!r} contains the character {bad}, which cannot be sent to Peoplevox; "
                "correct it in Shopify (or in sku_overrides.yaml)",
            )
    if override is not None:
        if override in known_item_codes:
            return Mapped(sku, override, via_override=True)
        return Unmapped(
            sku,
            UnmappedReason.OVERRIDE_TARGET_UNKNOWN,
            f"SKU {sku!r} is overridden to item code {override!r}, which Peoplevox does not have",
        )
    if sku in known_item_codes:
        return Mapped(sku, sku, via_override=False)
    return Unmapped(sku, UnmappedReason.UNKNOWN_SKU, _unknown_message(sku, known_item_codes))


def _unknown_message(sku: str, known_item_codes: Set[str]) -> str:
    message = f"SKU {sku!r} is not a Peoplevox item code and has no override in sku_overrides.yaml"
    if any(char == "\\" or unicodedata.category(char) in ("Cc", "Cs", "Cn") for char in sku):
        # The Peoplevox lookup refuses these (lib/peoplevox/clauses.py): fix the SKU in Shopify.
        return message + " (it contains a backslash or a control character, which cannot be looked up)"
    if sku.strip() in known_item_codes:
        return message + f" (it has spaces around it; Peoplevox has {sku.strip()!r})"
    folded = sku.strip().casefold()
    near = sorted(code for code in known_item_codes if code.casefold() == folded)
    if near:
        return message + f" (Peoplevox has {near[0]!r}, which differs only in case)"
    return message
