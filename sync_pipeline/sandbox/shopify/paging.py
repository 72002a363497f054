"""Relay cursor pagination as Shopify serves it: `first`/`last` required, at most 250 a page.

Cursors encode the sort key and the id of the last record, not an offset, so a page boundary
stays put while records are inserted or re-sorted between requests (as Shopify's do).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from graphql import GraphQLError

from .ids import decode_cursor, encode_cursor

MAX_PAGE = 250
# Set while a bulk operation runs its query (bulk.py): bulk queries page nothing themselves, so a
# connection without `first`/`last` returns every record and no page cap applies.
_UNBOUNDED: ContextVar[bool] = ContextVar("bulk_unbounded", default=False)
# A bulk export's root records, filtered and sorted at its first page (`root_connection`).
_SNAPSHOTS: ContextVar[dict[Hashable, tuple[list[Any], list[Any]]] | None] = ContextVar(
    "bulk_snapshots", default=None
)


@contextmanager
def unbounded(snapshots: dict[Hashable, tuple[list[Any], list[Any]]] | None = None) -> Iterator[None]:
    """Bulk paging for the block; `snapshots` (one dict per export, kept across its pages) holds
    each root connection's records as its first page found them."""
    token = _UNBOUNDED.set(True)
    kept = _SNAPSHOTS.set(snapshots)
    try:
        yield
    finally:
        _SNAPSHOTS.reset(kept)
        _UNBOUNDED.reset(token)


def root_connection(
    name: Hashable,
    records: Callable[[], Sequence[Any]],
    key: Callable[[Any], list[Any]],
    wrap: Callable[[Any], Any],
    **args: Any,
) -> dict[str, Any]:
    """A top-level connection (`orders`, `productVariants`…). `name` says what decides its records
    and order (the field, its search, its sort key). A bulk export reads its root connection page
    after page; the records it matches are filtered and sorted once, at its first page, and the
    later pages go on through that list (in its order, each record as it is when its page is
    read). Filtering and sorting every order again for every page of 50 made an export of 100,000
    orders quadratic: ~1.2 s a page, 75 minutes in all (benchmarks/README.md, session 16).
    Assumption: an order created while an export runs is not in it (Shopify does not document
    either way; our backfills read a window that ends before they start)."""
    snapshots = _SNAPSHOTS.get()
    if snapshots is None:
        return connection(records(), key, wrap, **args)
    reverse = bool(args.get("reverse"))
    if (name, reverse) not in snapshots:
        ordered = sorted(records(), key=key, reverse=reverse)
        snapshots[(name, reverse)] = (ordered, [key(r) for r in ordered])
    ordered, keys = snapshots[(name, reverse)]
    return connection(ordered, key, wrap, sorted_keys=keys, **args)


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
    sorted_keys: list[Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Sort `records` by `key` (ending with a unique id), slice by cursor, and shape the page.
    `sorted_keys`: `records` are in order already and these are their keys."""
    size = page_size(first, last, len(records))
    if sorted_keys is None:
        ordered = sorted(records, key=key, reverse=reverse)
        keys = [key(r) for r in ordered]
    else:
        ordered, keys = records, sorted_keys
    lo, hi = 0, len(ordered)
    if after:
        mark = _cursor_key(after)
        lo = _first(keys, (lambda k: k < mark) if reverse else (lambda k: k > mark))
    if before:
        mark = _cursor_key(before)
        hi = _first(keys, (lambda k: k <= mark) if reverse else (lambda k: k >= mark))
        hi = max(hi, lo)
    chosen = range(lo, min(hi, lo + size)) if last is None else range(max(lo, hi - size), hi)
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


def _first(keys: list[Any], past: Callable[[Any], bool]) -> int:
    """The index of the first key `past` holds for (it holds for every key after it, the keys
    being in order), or `len(keys)`."""
    lo, hi = 0, len(keys)
    while lo < hi:
        mid = (lo + hi) // 2
        if past(keys[mid]):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _cursor_key(cursor: str) -> list[Any]:
    value = decode_cursor(cursor)
    if not isinstance(value, list):
        raise GraphQLError(f"Invalid cursor {cursor!r}", extensions={"code": "BAD_REQUEST"})
    return value
