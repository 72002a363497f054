"""Which Shopify location a name in `stock.yaml` means: one rule for the stock push and despatches.

`stock.yaml` names locations as a person reads them in the Shopify admin, so a match may not
depend on what the admin does not show: case, a trailing or doubled space, an accent typed as two
code points (NFD), full-width letters. But a location named exactly so always wins, and when
several differ from the name only in such ways and none is exact, there is no match (the caller
raises its exception naming them): a guess would send stock, or a fulfilment, to the wrong
location. (Until 2026-11-30 both flows compared without case only, and the last location read won.)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def comparable(name: str) -> str:
    """`name` as the admin shows it to a person: compatibility-normalised, case-folded, single-spaced."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True)
class NameMatch(Generic[T]):
    found: T | None
    # When nothing was found: the names that differ from the one wanted only as the admin hides.
    ambiguous: tuple[str, ...] = ()


def match_name(wanted: str, named: Mapping[str, T]) -> NameMatch[T]:
    """The value of the name exactly `wanted`, else of the one name `comparable` to it."""
    if wanted in named:
        return NameMatch(named[wanted])
    key = comparable(wanted)
    alike = [name for name in named if comparable(name) == key]
    if len(alike) == 1:
        return NameMatch(named[alike[0]])
    return NameMatch(None, tuple(alike))
