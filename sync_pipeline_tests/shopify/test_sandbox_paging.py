"""The sandbox's cursor paging against the plain linear scan it replaced: every page by
`first`/`after` and `last`/`before`, in both orders, read directly or from a bulk export's kept
snapshot (reused across pages), is the same page, cursors and pageInfo included (the binary
search over the keys and the snapshot must not change a page)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.sandbox.shopify.ids import decode_cursor, encode_cursor
from sync_pipeline.sandbox.shopify.paging import connection, root_connection, unbounded


def _key(record: tuple[int, int]) -> list[Any]:
    return [record[0], record[1]]  # a sort value (with ties), then the unique id


def _wrap(record: tuple[int, int]) -> int:
    return record[1]


def _linear_page(records: list[tuple[int, int]], reverse: bool, first: int | None, after: str | None,
                 last: int | None, before: str | None) -> dict[str, Any]:  # fmt: skip
    """The oracle: sort, then find the cursor's place by walking the keys (the code until session 18)."""
    size = first if first is not None else last
    assert size is not None
    ordered = sorted(records, key=_key, reverse=reverse)
    keys = [_key(r) for r in ordered]
    lo, hi = 0, len(ordered)
    if after:
        mark = decode_cursor(after)
        lo = next((i for i, k in enumerate(keys) if (k < mark if reverse else k > mark)), len(keys))
    if before:
        mark = decode_cursor(before)
        hi = max(
            lo, next((i for i, k in enumerate(keys) if (k <= mark if reverse else k >= mark)), len(keys))
        )
    window = list(range(lo, hi))
    chosen = window[:size] if last is None else window[max(0, len(window) - size) :]
    cursors = [encode_cursor(keys[i]) for i in chosen]
    nodes = [_wrap(ordered[i]) for i in chosen]
    return {
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": bool(chosen) and chosen[-1] < hi - 1 if last is None else hi < len(keys),
            "hasPreviousPage": lo > 0 if last is None else bool(chosen) and chosen[0] > lo,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


records_strategy = st.lists(st.integers(0, 5), max_size=40).map(
    lambda values: [(v, i) for i, v in enumerate(values)]
)
mark_strategy = (
    st.tuples(st.integers(-1, 6), st.integers(-1, 41)).map(lambda m: encode_cursor(list(m))) | st.none()
)
page_strategy = st.tuples(st.integers(0, 12), st.booleans(), mark_strategy, mark_strategy)


@settings(max_examples=300, deadline=None)
@given(records=records_strategy, reverse=st.booleans(), pages=st.lists(page_strategy, min_size=1, max_size=3))
def test_a_page_is_what_the_linear_scan_gave(
    records: list[tuple[int, int]], reverse: bool, pages: list[tuple[int, bool, str | None, str | None]]
) -> None:
    snapshots: dict[Any, Any] = {}  # one export's, kept across its pages
    for size, backwards, after, before in pages:
        first, last = (None, size) if backwards else (size, None)
        expected = _linear_page(records, reverse, first, after, last, before)
        args: dict[str, Any] = {
            "reverse": reverse,
            "after": after,
            "before": before,
            "first": first,
            "last": last,
        }
        assert connection(records, _key, _wrap, **args) == expected
        with unbounded(snapshots):
            assert root_connection("records", lambda: records, _key, _wrap, **args) == expected


def test_an_export_pages_through_the_records_its_first_page_found() -> None:
    records = [(0, i) for i in range(10)]
    snapshots: dict[Any, Any] = {}
    seen: list[int] = []
    after = None
    while True:
        with unbounded(snapshots):
            page = root_connection("records", lambda: list(records), _key, _wrap, first=4, after=after)
        seen += page["nodes"]
        records.append((0, 100 + len(records)))  # created while the export runs: not in it
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(range(10))
    # Outside an export, every read sees the records as they are now.
    assert len(root_connection("records", lambda: records, _key, _wrap, first=250)["nodes"]) == 13
