"""Global IDs in Shopify's form (`gid://shopify/Order/5001`) and opaque cursors."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any


class IdSequence:
    """Numeric ids that look like Shopify's (large, increasing) and never repeat in a process."""

    def __init__(self, start: int = 5_000_000_001) -> None:
        self._counter = itertools.count(start)

    def next(self) -> int:
        return next(self._counter)


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str, kind: str | None = None) -> int | None:
    """The numeric part of a gid, or None when it is malformed or of another kind."""
    prefix = "gid://shopify/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    parts = value[len(prefix) :].split("/")
    if len(parts) != 2 or (kind is not None and parts[0] != kind):
        return None
    number = parts[1].split("?")[0]
    return int(number) if number.isdigit() else None


def gid_kind(value: str) -> str | None:
    prefix = "gid://shopify/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    return value[len(prefix) :].split("/")[0]


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError):
        return None
