"""Relay cursor pagination as Shopify serves it: `first`/`last` required, at most 250 a page.

Cursors encode the sort key and the id of the last record, not an offset, so a page boundary
stays put while records are inserted or re-sorted between requests (as Shopify's do).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from graphql import GraphQLError

from .ids import decode_cursor, encode_cursor

MAX_PAGE = 250
# Set while a bulk operation runs its query (bulk.py): bulk queries page nothing themselves, so a
# connection without `first`/`last` returns every record and no page cap applies.
_UNBOUNDED: ContextVar[bool] = ContextVar("bulk_unbounded", default=False)


@contextmanager
def unbounded() -> Iterator[None]:
    token = _UNBOUNDED.set(True)
    try:
        yield
    finally:
        _UNBOUNDED.reset(token)


def page_size(first: int | None, last: int | None, available: int = 0) -> int:
    if _UNBOUNDED.get():
        return first if first is not None else last if last is not None else available
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    if first is not None and last is not None:
        raise GraphQLError(
            "providing both first and last is not supported", extensions={"code": "BAD_REQUEST"}
        )
    size = first if first is not None else last
    assert size is not None
    if size < 0 or size > MAX_PAGE:
        raise GraphQLError(
            f"The maximum number of records per page is {MAX_PAGE}, got {size}",
            extensions={"code": "BAD_REQUEST"},
        )
    return size


def connection(
    records: Sequence[Any],
    key: Callable[[Any], list[Any]],
    wrap: Callable[[Any], Any],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool = False,
    **_: Any,
) -> dict[str, Any]:
    """Sort `records` by `key` (ending with a unique id), slice by cursor, and shape the page."""
    size = page_size(first, last, len(records))
    ordered = sorted(records, key=key, reverse=reverse)
    keys = [key(r) for r in ordered]
    lo, hi = 0, len(ordered)
    if after:
        mark = _cursor_key(after)
        lo = next((i for i, k in enumerate(keys) if (k < mark if reverse else k > mark)), len(keys))
    if before:
        mark = _cursor_key(before)
        hi = next((i for i, k in enumerate(keys) if (k <= mark if reverse else k >= mark)), len(keys))
        hi = max(hi, lo)
    window = list(range(lo, hi))
    chosen = window[:size] if last is None else window[max(0, len(window) - size) :]
    nodes = [wrap(ordered[i]) for i in chosen]
    cursors = [encode_cursor(keys[i]) for i in chosen]
    has_next = bool(chosen) and chosen[-1] < hi - 1 if last is None else hi < len(keys)
    has_prev = lo > 0 if last is None else bool(chosen) and chosen[0] > lo
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _cursor_key(cursor: str) -> list[Any]:
    value = decode_cursor(cursor)
    if not isinstance(value, list):
        raise GraphQLError(f"Invalid cursor {cursor!r}", extensions={"code": "BAD_REQUEST"})
    return value
