"""The circuit breaker's rule: when a Peoplevox snapshot is too implausible to push."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import FeedLimits
from sync_pipeline.lib.domain.stock_feed import EarlierRead, assess_feed, assess_recent

from .factories import PROPERTY

LIMITS = FeedLimits()  # 20 % to zero (at least 10), 50 % total drop (of at least 100 units)
S = "PrimarySite"


def catalogue(n: int, units: int = 10) -> dict[tuple[str, str], int]:
    return {(f"I{i:03d}", S): units for i in range(n)}


def test_a_feed_of_zeros_or_nothing_is_suspect() -> None:
    before = catalogue(100)
    zeros = assess_feed(dict.fromkeys(before, 0), before, LIMITS)
    assert not zeros.plausible and zeros.zero_drops == 100 and "drop to zero" in zeros.reason
    nothing = assess_feed({}, before, LIMITS, expected_items=100)
    assert not nothing.plausible
    first_empty = assess_feed({}, {}, LIMITS, expected_items=100)
    assert not first_empty.plausible and "no rows" in first_empty.reason


def test_ordinary_selling_and_small_runs_pass() -> None:
    before = catalogue(100)
    after = dict(before)
    for i in range(15):  # 15 % sell out: under the share
        after[(f"I{i:03d}", S)] = 0
    assert assess_feed(after, before, LIMITS).plausible
    # A run about three items that all sold out is not a bad feed (under min_skus).
    three = {k: 0 for k in list(before)[:3]}
    assert assess_feed(three, before, LIMITS, asked={k[0] for k in three}).plausible


def test_total_drop_trips_even_without_zeros() -> None:
    before = catalogue(50, units=10)
    halved = {k: 4 for k in before}
    verdict = assess_feed(halved, before, LIMITS)
    assert not verdict.plausible and "500 to 200" in verdict.reason
    assert assess_feed({k: 4 for k in list(before)[:5]}, dict(list(before.items())[:5]), LIMITS).plausible


@PROPERTY
@given(
    st.dictionaries(st.sampled_from([f"I{i}" for i in range(40)]), st.integers(0, 50), min_size=1),
    st.data(),
)
def test_the_verdict_follows_its_two_rules(accepted_codes, data) -> None:  # type: ignore[no-untyped-def]
    accepted = {(c, S): v for c, v in accepted_codes.items()}
    read = {k: data.draw(st.integers(0, 60)) for k in accepted if data.draw(st.booleans())}
    verdict = assess_feed(read, accepted, LIMITS)
    with_stock = [k for k, v in accepted.items() if v > 0]
    drops = sum(1 for k in with_stock if read.get(k, 0) == 0)
    before, after = sum(accepted.values()), sum(read.values())
    share_rule = drops >= LIMITS.min_skus and drops / max(1, len(with_stock)) > LIMITS.max_zero_share
    total_rule = before >= LIMITS.min_total_units and after < before * (1 - LIMITS.max_total_drop)
    assert verdict.plausible == (not share_rule and not total_rule)
    assert verdict.zero_drops == drops


EARLIER = st.lists(
    st.integers(0, 30).flatmap(lambda c: st.tuples(st.just(c), st.integers(0, c))), max_size=20
)


@PROPERTY
@given(EARLIER, st.lists(st.integers(1, 15), min_size=1, max_size=30))
def test_a_bad_feed_read_a_few_items_at_a_time_zeroes_fewer_than_min_skus(earlier, bad_reads) -> None:  # type: ignore[no-untyped-def]
    """Whatever healthy reads came before, a feed answering 0 for every item, however few items
    each run asks about, zeroes at most min_skus - 1 figures before the breaker trips."""
    at = datetime(2026, 11, 30, 10, 0)
    history = [EarlierRead(at, c, d) for c, d in earlier]
    zeroed = 0
    for n, size in enumerate(bad_reads):
        before = {(f"B{n}-{i}", S): 3 for i in range(size)}
        verdict = assess_recent(assess_feed(dict.fromkeys(before, 0), before, LIMITS), history, LIMITS)
        if not verdict.plausible:
            break
        history.append(EarlierRead(at, verdict.compared, verdict.zero_drops))
        zeroed += verdict.zero_drops
    assert zeroed <= LIMITS.min_skus - 1


def test_the_window_judges_small_reads_together_and_never_holds_a_read_without_zeros() -> None:
    at = datetime(2026, 11, 30, 10, 0)
    one_item = catalogue(1)
    zero = assess_feed(dict.fromkeys(one_item, 0), one_item, LIMITS)
    assert zero.plausible  # alone, one item selling out is nothing
    nine_zeroings = [EarlierRead(at, 1, 1)] * 9
    tripped = assess_recent(zero, nine_zeroings, LIMITS)
    assert not tripped.plausible and "last 10 incremental reads" in tripped.reason
    assert "10 of 10" in tripped.reason and tripped.zero_drops == 1  # its own counts, for the next sum
    # Ten sell-outs among many busy reads are ordinary selling…
    busy = [EarlierRead(at, 100, 1)] * 9
    assert assess_recent(zero, busy, LIMITS).plausible
    # …but busy reads long ago do not dilute a bad feed's run of zeros now.
    assert not assess_recent(zero, busy + nine_zeroings, LIMITS).plausible
    moved = assess_feed({k: 4 for k in one_item}, one_item, LIMITS)
    assert assess_recent(moved, nine_zeroings, LIMITS).plausible
