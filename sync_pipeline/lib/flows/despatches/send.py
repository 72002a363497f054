"""Calls to Shopify in parallel across orders, one after another within an order.

Shopify limits an app by query cost, not by connections: the client's `CostPacer` is shared by
every thread and holds each request (under its lock) until the bucket covers it, so more threads
cannot overrun the bucket; they only stop one slow answer from holding up the next order.
Within an order the calls keep their order (packages in the order they left the warehouse, so
Shopify numbers and emails them in that order).

Answers are handed back in small batches, as they come, to the caller's thread, which alone
writes the ledger (one transaction per batch, never one held across a call). A call that raises
stops new orders from starting; what was answered is still handed back, then the error is raised.

After `deadline` (time.monotonic()) no new group starts, so a run holds the `shopify_api` pool no
longer than its budget plus the groups in flight; the first `concurrency` groups always start (a
run always makes progress), and a group once started goes to its end (an order's packages stay in
turn). Items never called give no answer: the caller sees which.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Answers are handed to the ledger at least this often while calls are in flight.
FLUSH_SECONDS = 1.0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()  # a group has no more answers
_NOTHING = object()  # no answer within the flush interval


def send_grouped(
    items: Sequence[T],
    group_of: Callable[[T], Hashable],
    call: Callable[[T], R],
    on_answers: Callable[[list[R]], None],
    concurrency: int,
    flush_seconds: float = FLUSH_SECONDS,
    deadline: float | None = None,
) -> None:
    """`call` every item, up to `concurrency` groups at once, each group's items in turn;
    `on_answers` gets the answers in batches on this thread. No group starts after `deadline`
    except the first `concurrency`."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(group_of(item), []).append(item)
    answers: queue.SimpleQueue[object] = queue.SimpleQueue()
    stop = threading.Event()
    starting = threading.Lock()
    started = 0

    def may_start() -> bool:
        nonlocal started
        with starting:
            if started >= concurrency and deadline is not None and time.monotonic() >= deadline:
                return False
            started += 1
            return True

    def run(group: list[T]) -> None:
        try:
            if not may_start():
                return
            for item in group:
                if stop.is_set():
                    return
                answers.put(call(item))
        except BaseException as error:  # raised again on the caller's thread
            answers.put(_Failed(error))
        finally:
            answers.put(_DONE)

    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="shopify-send") as pool:
        try:
            for group in groups.values():
                pool.submit(run, group)
            running, batch, since = len(groups), [], time.monotonic()
            while running:
                try:
                    got = answers.get(timeout=max(0.0, since + flush_seconds - time.monotonic()))
                except queue.Empty:
                    got = _NOTHING
                if got is _DONE:
                    running -= 1
                elif isinstance(got, _Failed):
                    failure = failure or got.error
                    stop.set()
                elif got is not _NOTHING:
                    batch.append(got)
                interval_over = time.monotonic() - since >= flush_seconds
                if batch and (interval_over or not running):
                    on_answers(batch)
                    batch = []
                if interval_over:
                    since = time.monotonic()
        except BaseException:
            stop.set()  # the ledger write failed: start nothing more (what was sent is written ahead)
            raise
    if failure is not None:
        raise failure
