"""Returned items in Shopify line units: how many came back, and how many are back on the shelf.

A bundle line unit is made of several items; the warehouse returns items, graded one by one, in
as many returns as the customer sends. A line unit is reusable when the items that make it came
back reusable, whichever returns they came in; never more are reusable than came back.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import example, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.fulfilment import LineNeed
from sync_pipeline.lib.domain.returns import GradedItem, count_returns, unmatched_items

BUNDLE = [LineNeed("bundle", (("A", 1), ("B", 1)), 1)]


def totals(by_code: dict[str, dict[str, int]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for lines in by_code.values():
        out.update(lines)
    return out


def counted(needs: list[LineNeed], *items: tuple[str, str, int, bool]) -> tuple[Counter[str], Counter[str]]:
    returned, reusable = count_returns(needs, [GradedItem(*i) for i in items])
    return totals(returned), totals(reusable)


def test_both_parts_reusable_in_one_return() -> None:
    assert counted(BUNDLE, ("R1", "A", 1, True), ("R1", "B", 1, True)) == ({"bundle": 1}, {"bundle": 1})


def test_parts_split_across_two_returns_both_reusable() -> None:
    assert counted(BUNDLE, ("R1", "A", 1, True), ("R2", "B", 1, True)) == ({"bundle": 1}, {"bundle": 1})


def test_half_reusable_bundle_is_returned_not_reusable() -> None:
    assert counted(BUNDLE, ("R1", "A", 1, True), ("R1", "B", 1, False)) == ({"bundle": 1}, {})
    assert counted(BUNDLE, ("R1", "A", 1, True), ("R2", "B", 1, False)) == ({"bundle": 1}, {})
    assert counted(BUNDLE, ("R1", "A", 1, False), ("R2", "B", 1, True)) == ({"bundle": 1}, {})


def test_reusable_part_completing_a_unit_in_a_later_return_still_counts() -> None:
    # R1 brings a whole bundle back (A damaged); R2 brings a reusable A: the shelf now holds a
    # reusable A and a reusable B, one bundle's worth, and one bundle came back.
    # It is booked against R1, the return that brought the unit back (R2 completes no unit), so
    # no return holds more reusable units than returned ones.
    two = [LineNeed("bundle", (("A", 1), ("B", 1)), 2)]
    items = [GradedItem("R1", "A", 1, False), GradedItem("R1", "B", 1, True), GradedItem("R2", "A", 1, True)]
    assert count_returns(two, items) == ({"R1": {"bundle": 1}, "R2": {}}, {"R1": {"bundle": 1}})


CODES = ["A", "B", "C"]
needs_strategy = st.lists(
    st.dictionaries(st.sampled_from(CODES), st.integers(1, 2), min_size=1, max_size=3), min_size=1, max_size=3
).map(lambda recipes: [LineNeed(f"L{i}", tuple(sorted(r.items())), 2) for i, r in enumerate(recipes)])
items_strategy = st.lists(
    st.tuples(st.sampled_from(["R1", "R2", "R3"]), st.sampled_from(CODES), st.integers(1, 3), st.booleans()),
    max_size=8,
).map(lambda rows: sorted(rows, key=lambda r: r[0]))


@settings(max_examples=100, deadline=None)
@given(needs_strategy, items_strategy)
@example(BUNDLE, [("R1", "A", 1, False), ("R1", "B", 1, True), ("R2", "A", 1, True)])
def test_never_more_reusable_than_returned_per_return_and_line(
    needs: list[LineNeed], items: list[tuple[str, str, int, bool]]
) -> None:
    returned, reusable = count_returns(needs, [GradedItem(*i) for i in items])
    for code, lines in reusable.items():
        for line, n in lines.items():
            assert 0 <= n <= returned.get(code, {}).get(line, 0), (code, line, returned, reusable)
    # Everything graded reusable: every returned unit is reusable; nothing reusable: none is.
    all_good, all_good_reusable = count_returns(needs, [GradedItem(c, i, q, True) for c, i, q, _ in items])
    assert totals(all_good) == totals(all_good_reusable)
    assert not +totals(count_returns(needs, [GradedItem(c, i, q, False) for c, i, q, _ in items])[1])


@settings(max_examples=50, deadline=None)
@given(
    needs_strategy,
    items_strategy.map(lambda rows: [(c, "Z" if i == "C" else i, q, g) for c, i, q, g in rows]),
)
def test_items_no_line_has_are_counted_apart_and_on_no_line(
    needs: list[LineNeed], items: list[tuple[str, str, int, bool]]
) -> None:
    """An item code no recipe uses ("Z") comes back on no line and is counted apart, unit for unit,
    per return; every other item code is never counted apart."""
    graded = [GradedItem(*i) for i in items]
    stray = unmatched_items(needs, graded)
    known = {code for n in needs for code, _ in n.recipe}
    expected: dict[str, Counter[str]] = {}
    for code, item, units, _ in items:
        if item not in known:
            expected.setdefault(code, Counter())[item] += units
    assert stray == expected
    with_stray, without = (
        count_returns(needs, rows) for rows in (graded, [r for r in graded if r.item_code in known])
    )
    assert [totals(c) for c in with_stray] == [totals(c) for c in without]  # no line's count changed
