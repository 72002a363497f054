"""What is news for the next digest: P1 exceptions not yet announced, checks that began failing.

Each P1 is announced once while it stays P1, and each failing check once per failing streak: a
digest every interval that repeats yesterday's list teaches people to ignore it. An exception
that drops out of P1 (or a check that passes) is forgotten, so its return is news again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DigestCursor:
    last_digest: float = 0.0  # epoch seconds of the last digest written to the outbox
    announced_p1: list[int] = field(default_factory=list)  # exception ids
    failing_checks: list[str] = field(default_factory=list)  # check keys already announced failing

    @classmethod
    def parse(cls, raw: str | None) -> DigestCursor:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(
            float(data.get("last_digest", 0.0)),
            [int(i) for i in data.get("announced_p1", [])],
            [str(c) for c in data.get("failing_checks", [])],
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "last_digest": self.last_digest,
                "announced_p1": self.announced_p1,
                "failing_checks": self.failing_checks,
            }
        )


@dataclass(frozen=True)
class News:
    p1: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.p1 or self.checks)


def news(cursor: DigestCursor, p1: Sequence[dict[str, Any]], failing: Mapping[str, dict[str, Any]]) -> News:
    """`p1`: the current P1 exceptions (dicts with `id`); `failing`: check key → its failure (a dict)."""
    announced, known = set(cursor.announced_p1), set(cursor.failing_checks)
    return News(
        [e for e in p1 if int(e["id"]) not in announced],
        [c for key, c in sorted(failing.items()) if key not in known],
    )


def advance(
    cursor: DigestCursor,
    p1: Sequence[dict[str, Any]],
    failing: Mapping[str, dict[str, Any]],
    sent: News | None,
    now: float,
) -> DigestCursor:
    """The cursor after a tick: forget what is no longer P1 or failing; remember what was sent."""
    current = {int(e["id"]) for e in p1}
    announced = set(cursor.announced_p1) & current
    known = set(cursor.failing_checks) & set(failing)
    if sent is not None:
        announced |= {int(e["id"]) for e in sent.p1}
        known |= {str(c["key"]) for c in sent.checks}
    return DigestCursor(now if sent is not None else cursor.last_digest, sorted(announced), sorted(known))
