"""The sandbox's cursor paging against a plain model of it: every page by `first`/`after` and
`last`/`before`, in both orders, and from a bulk export's kept snapshot, gives what slicing the
sorted records by their keys gives (the binary search over the keys and the snapshot must not
change a page)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.sandbox.shopify.ids import encode_cursor
from sync_pipeline.sandbox.shopify.paging import connection, root_connection, unbounded


def _key(record: tuple[int, int]) -> list[Any]:
    return [record[0], record[1]]  # a sort value (with ties), then the unique id


def _model(records: list[tuple[int, int]], reverse: bool, first: int | None, after: list[Any] | None,
           last: int | None, before: list[Any] | None) -> list[int]:  # fmt: skip
    ordered = sorted(records, key=_key, reverse=reverse)
    keys = [_key(r) for r in ordered]
    window = [
        i for i, k in enumerate(keys)
        if (after is None or (k < after if reverse else k > after))
        and (before is None or (k > before if reverse else k < before))
    ]  # fmt: skip
    chosen = window[:first] if last is None else window[max(0, len(window) - (last or 0)) :]
    return [ordered[i][1] for i in chosen]


records_strategy = st.lists(st.integers(0, 5), max_size=40).map(
    lambda values: [(v, i) for i, v in enumerate(values)]
)


@settings(max_examples=300, deadline=None)
@given(
    records=records_strategy,
    reverse=st.booleans(),
    size=st.integers(0, 12),
    backwards=st.booleans(),
    mark=st.tuples(st.integers(-1, 6), st.integers(-1, 41)) | st.none(),
    other=st.tuples(st.integers(-1, 6), st.integers(-1, 41)) | st.none(),
    snapshot=st.booleans(),
)
def test_a_page_is_the_sorted_records_sliced_by_their_keys(
    records: list[tuple[int, int]], reverse: bool, size: int, backwards: bool,
    mark: tuple[int, int] | None, other: tuple[int, int] | None, snapshot: bool,
) -> None:  # fmt: skip
    after = list(mark) if mark else None
    before = list(other) if other else None
    args: dict[str, Any] = {"reverse": reverse, "after": encode_cursor(after) if after else None,
                            "before": encode_cursor(before) if before else None}  # fmt: skip
    args["last" if backwards else "first"] = size
    if snapshot:
        with unbounded({}):
            page = root_connection("records", lambda: records, _key, lambda r: r[1], **args)
    else:
        page = connection(records, _key, lambda r: r[1], **args)
    expected = _model(
        records, reverse, None if backwards else size, after, size if backwards else None, before
    )
    assert page["nodes"] == expected


def test_an_export_pages_through_the_records_its_first_page_found() -> None:
    records = [(0, i) for i in range(10)]
    snapshots: dict[Any, Any] = {}
    seen: list[int] = []
    after = None
    while True:
        with unbounded(snapshots):
            page = root_connection(
                "records", lambda: list(records), _key, lambda r: r[1], first=4, after=after
            )
        seen += page["nodes"]
        records.append((0, 100 + len(records)))  # created while the export runs: not in it
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(range(10))
    # Outside an export, every read sees the records as they are now.
    assert len(root_connection("records", lambda: records, _key, lambda r: r[1], first=250)["nodes"]) == 13
