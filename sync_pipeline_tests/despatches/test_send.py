"""`send_grouped`: calls in parallel across groups, in turn within one, and a deadline after which
no new group starts (a fulfil step bounds how long it holds the `shopify_fulfil` pool)."""

from __future__ import annotations

import threading
import time

from sync_pipeline.lib.flows.despatches.send import GroupSender, send_grouped

ITEMS = [(group, n) for group in "abcdef" for n in range(2)]


def _send(
    deadline: float | None, concurrency: int = 2
) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    called: list[tuple[str, int]] = []
    answered: list[tuple[str, int]] = []
    lock = threading.Lock()

    def call(item: tuple[str, int]) -> tuple[str, int]:
        with lock:
            called.append(item)
        time.sleep(0.01)
        return item

    send_grouped(
        ITEMS, lambda i: i[0], call, answered.extend, concurrency, flush_seconds=0.05, deadline=deadline
    )
    return called, answered


def test_without_a_deadline_every_item_is_called_and_answered_in_turn_within_its_group() -> None:
    called, answered = _send(None)
    assert sorted(called) == sorted(answered) == sorted(ITEMS)
    for group in "abcdef":
        assert [n for g, n in answered if g == group] == [0, 1]


def test_after_the_deadline_no_new_group_starts_and_started_groups_finish() -> None:
    # Already past: the first `concurrency` groups still go (a run always makes progress), whole.
    called, answered = _send(time.monotonic() - 1)
    assert sorted(called) == sorted(answered)
    groups = {g for g, _ in called}
    assert len(groups) == 2 and sorted(called) == sorted(i for i in ITEMS if i[0] in groups)


def test_once_told_to_stop_starting_no_new_group_begins_and_those_begun_finish() -> None:
    """A fulfil step handing its pool over: the waves it claimed ahead are not sent (they go back to
    `pending`), the orders already under way keep their packages in turn."""
    called: list[tuple[str, int]] = []
    lock = threading.Lock()

    def call(item: tuple[str, int]) -> tuple[str, int]:
        with lock:
            called.append(item)
        time.sleep(0.05)
        return item

    answered: list[tuple[str, int]] = []
    with GroupSender[tuple[str, int], tuple[str, int]](2) as sender:
        groups: dict[str, list[tuple[str, int]]] = {}
        for item in ITEMS:
            groups.setdefault(item[0], []).append(item)
        sender.submit(list(groups.values()), call)
        sender.collect(answered.extend, flush_seconds=0.01, until=lambda: len(answered) >= 1)
        sender.stop_starting()
        sender.collect(answered.extend, flush_seconds=0.01)
    begun = {g for g, _ in called}
    assert len(begun) < len(groups), f"every group began: {sorted(begun)}"
    assert sorted(called) == sorted(answered) == sorted(i for i in ITEMS if i[0] in begun)
