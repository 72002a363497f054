"""The rehearsal's lost/duplicated accounting: each kind fails when an effect is missing or doubled."""

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.rehearsal import accounting
from sync_pipeline.rehearsal.accounting import StockView

ORDERS = ["SHP-1", "SHP-2", "SHP-3"]


def test_orders_each_once_is_clean() -> None:
    tally = accounting.orders(ORDERS, dict.fromkeys(ORDERS, 1))
    assert (tally.lost, tally.duplicated) == (0, 0)


def test_orders_missing_one_is_lost() -> None:
    tally = accounting.orders(ORDERS, {"SHP-1": 1, "SHP-3": 1})
    assert (tally.lost, tally.duplicated) == (1, 0)
    assert "missing SHP-2" in tally.examples


def test_orders_twice_or_unexpected_is_duplicated() -> None:
    tally = accounting.orders(ORDERS, {"SHP-1": 2, "SHP-2": 1, "SHP-3": 1}, unexpected=["SHP-99"])
    assert (tally.lost, tally.duplicated) == (0, 2)


@given(st.dictionaries(st.sampled_from(ORDERS), st.integers(0, 4)))
def test_orders_counts_add_up(counts: dict[str, int]) -> None:
    tally = accounting.orders(ORDERS, counts)
    assert tally.lost == sum(1 for o in ORDERS if counts.get(o, 0) == 0)
    assert tally.duplicated == sum(max(0, n - 1) for n in counts.values())


def test_cancellations_live_in_the_warehouse_are_lost() -> None:
    status = {"SHP-1": "Cancelled", "SHP-2": "New"}
    assert accounting.cancellations(["SHP-1", "SHP-3"], status).lost == 0  # cancelled there, or never sent
    assert accounting.cancellations(["SHP-2"], status).lost == 1


def test_edits_short_units_lost_extra_units_duplicated() -> None:
    wanted = {"SHP-1": Counter({"A": 2, "B": 1}), "SHP-2": Counter({"A": 1})}
    assert (
        accounting.edits(wanted, {"SHP-1": Counter({"A": 2, "B": 1}), "SHP-2": Counter({"A": 1})})
        == accounting.Tally()
    )
    short = accounting.edits(wanted, {"SHP-1": Counter({"A": 1}), "SHP-2": Counter({"A": 1})})
    assert (short.lost, short.duplicated) == (2, 0)
    over = accounting.edits(wanted, {"SHP-1": Counter({"A": 3, "B": 1}), "SHP-2": Counter({"A": 1})})
    assert (over.lost, over.duplicated) == (0, 1)


def test_fulfilments_by_tracking_number() -> None:
    packages = ["T1", "T2", "T3"]
    assert accounting.fulfilments(packages, ["T1", "T2", "T3"]) == accounting.Tally()
    assert accounting.fulfilments(packages, ["T1", "T3"]).lost == 1
    doubled = accounting.fulfilments(packages, ["T1", "T2", "T3", "T2"])
    assert (doubled.lost, doubled.duplicated) == (0, 1)
    assert accounting.fulfilments(packages, ["T1", "T2", "T3", "T9"]).duplicated == 1


def test_emails_one_per_notified_fulfilment() -> None:
    assert accounting.emails(["F1", "F2"], ["F1", "F2"]) == accounting.Tally()
    assert accounting.emails(["F1", "F2"], ["F1"]).lost == 1
    assert accounting.emails(["F1", "F2"], ["F1", "F2", "F2"]).duplicated == 1
    assert accounting.emails(["F1"], ["F1", "F3"]).duplicated == 1  # an email for a silent fulfilment


def test_stock_writes_off_target_lost_unrecorded_or_doubled_duplicated() -> None:
    levels = {"A": StockView(shown=5, target=5), "B": StockView(shown=3, target=3)}
    assert accounting.stock_writes(levels, ["k1", "k2"], {"k1": True, "k2": True}) == accounting.Tally()
    off = accounting.stock_writes({**levels, "B": StockView(shown=7, target=3)}, ["k1"], {"k1": True})
    assert (off.lost, off.duplicated) == (1, 0)
    twice = accounting.stock_writes(levels, ["k1", "k1"], {"k1": True})
    assert twice.duplicated == 1
    behind_its_back = accounting.stock_writes(levels, ["k1", "k2"], {"k1": True, "k2": False})
    assert behind_its_back.duplicated == 1
    assert accounting.stock_writes(levels, [None], {}).duplicated == 1
    # The client sends chunk i of a request as `key:i`; each chunk once is clean.
    assert accounting.stock_writes(levels, ["k1:0", "k1:1"], {"k1": True}) == accounting.Tally()
    assert accounting.stock_writes(levels, ["k1:0", "k1:0"], {"k1": True}).duplicated == 1


def test_accounting_is_clean_only_with_nothing_lost_or_duplicated() -> None:
    clean = accounting.Accounting({"orders": accounting.Tally()})
    assert clean.clean and clean.lost["fulfilments"] == 0
    assert not accounting.Accounting({"emails": accounting.Tally(duplicated=1)}).clean
    assert not accounting.Accounting({"orders": accounting.Tally(lost=1)}).clean
