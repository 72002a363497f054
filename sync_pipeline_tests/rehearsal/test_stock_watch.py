"""What the stock watch records about each goods-in: left, seen (with its latency) or never seen."""

from collections import deque

from sync_pipeline.rehearsal.stock_watch import Change, Shared


def test_left_latencies_and_unseen_count_each_change_once() -> None:
    seen, late, never = (
        Change("A", 10.0, 5, seen_after=12.5),
        Change("B", 11.0, 3, seen_after=20.0),
        Change("A", 14.0, 6),
    )
    shared = Shared(pending={"A": deque([never]), "B": deque()}, changes=[seen, late, never])
    assert shared.left() == 1
    assert shared.latencies() == [2.5, 9.0]
    assert shared.unseen() == 1
