"""Calls to Shopify in parallel across orders, one after another within an order.

Shopify limits an app by query cost, not by connections: the client's `CostPacer` is shared by
every thread and holds each request (under its lock) until the bucket covers it, so more threads
cannot overrun the bucket; they only stop one slow answer from holding up the next order.
Within an order the calls keep their order (packages in the order they left the warehouse, so
Shopify numbers and emails them in that order).

Answers are handed back in small batches, as they come, to the caller's thread, which alone
writes the ledger (one transaction per batch, never one held across a call). A call that raises
stops new orders from starting; what was answered is still handed back, then the error is raised.

`GroupSender` takes groups in several helpings while earlier ones are still being sent, so the
caller can write the ledger for the next helping (claims, the answers so far) while the senders
work, instead of the senders waiting for the ledger between helpings.

After `deadline` (time.monotonic()) no new group starts, so a run holds the `shopify_fulfil` pool no
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
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Answers are handed to the ledger at least this often while calls are in flight.
FLUSH_SECONDS = 1.0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()  # a group has no more answers
_NOTHING = object()  # no answer within the flush interval


class GroupSender(Generic[T, R]):
    """Up to `concurrency` groups at once, each group's items in turn, over every helping given
    to `submit`; answers come back on the caller's thread through `collect`."""

    def __init__(self, concurrency: int, deadline: float | None = None) -> None:
        self.concurrency = max(1, concurrency)
        self.deadline = deadline
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="shopify-send")
        self._answers: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._starting = threading.Lock()
        self._started = 0  # groups that began (or were turned away at the deadline)
        self._closed = False  # `stop_starting`: every group not yet begun is turned away
        self._submitted = 0
        self.running = 0  # groups submitted whose end `collect` has not seen yet
        self.failure: BaseException | None = None

    def __enter__(self) -> GroupSender[T, R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if error is not None:
            self._stop.set()  # the caller failed (a ledger write): start nothing more
        self._pool.shutdown(wait=True)

    @property
    def waiting_to_start(self) -> int:
        """Groups submitted that no sender has taken up yet."""
        with self._starting:
            return self._submitted - self._started

    def submit(self, groups: Sequence[Sequence[T]], call: Callable[[T], R]) -> None:
        for group in groups:
            with self._starting:
                self._submitted += 1
            self.running += 1
            self._pool.submit(self._run, group, call)

    def stop_starting(self) -> None:
        """Begin no more groups (those begun go to their end; the first `concurrency` still begin,
        as past the deadline): the caller hands its work over. Those turned away give no answer."""
        with self._starting:
            self._closed = True

    def _may_start(self) -> bool:
        with self._starting:
            self._started += 1
            past = self._closed or (self.deadline is not None and time.monotonic() >= self.deadline)
            return not (self._started > self.concurrency and past)

    def _run(self, group: Sequence[T], call: Callable[[T], R]) -> None:
        try:
            if not self._may_start():
                return
            for item in group:
                if self._stop.is_set():
                    return
                self._answers.put(call(item))
        except BaseException as error:  # raised again on the caller's thread
            self._answers.put(_Failed(error))
        finally:
            self._answers.put(_DONE)

    def collect(
        self,
        on_answers: Callable[[list[R]], None],
        flush_seconds: float = FLUSH_SECONDS,
        until: Callable[[], bool] | None = None,
    ) -> None:
        """Hand answers to `on_answers` in batches (at least every `flush_seconds`) until nothing
        runs, or `until()` holds (checked as answers come and at each flush). A call that raised
        stops new groups from starting; its error is in `failure` once seen."""
        batch: list[R] = []
        since = time.monotonic()
        while self.running and not (until is not None and until()):
            try:
                got = self._answers.get(timeout=max(0.0, since + flush_seconds - time.monotonic()))
            except queue.Empty:
                got = _NOTHING
            if got is _DONE:
                self.running -= 1
            elif isinstance(got, _Failed):
                self.failure = self.failure or got.error
                self._stop.set()
            elif got is not _NOTHING:
                batch.append(got)  # type: ignore[arg-type]
            interval_over = time.monotonic() - since >= flush_seconds
            if batch and (interval_over or not self.running):
                on_answers(batch)
                batch = []
            if interval_over:
                since = time.monotonic()
        if batch:
            on_answers(batch)


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
    with GroupSender[T, R](concurrency, deadline) as sender:
        sender.submit(list(groups.values()), call)
        sender.collect(on_answers, flush_seconds)
    if sender.failure is not None:
        raise sender.failure
