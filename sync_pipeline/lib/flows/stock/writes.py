"""Targets into Shopify: compare-and-set, write-ahead, stale reads re-read and retried, within budget.

Rows go quiet ones first, in requests of their own (nothing is selling them, so they cannot come
back stale: `stock_priority.quiet_first`), then the rest fastest sellers first; at most 250 rows
per `inventorySetQuantities` (Shopify's cap), each request with its own `@idempotent` key (the
client repeats it on a retry, so Shopify replays its first answer instead of applying twice).
Before a request goes its rows are written to the ledger as `sending`, several requests' at once
(`WRITE_AHEAD_ROWS`; one request at a time when the run has a budget, which may run out after any
of them). Without a budget `IN_FLIGHT` requests are out at
once and the next batch is written ahead while they are; each answer settles its rows, written with
the next transaction (`pending.py`). Rows written ahead and never sent (the run died) are read back by the
next run like any other left `sending`.

A stale `changeFromQuantity` means Shopify changed nothing of the request (all or nothing), and its
answer names the stale rows. The rows it did not name go again at once, in a new request with a new
key, without waiting for any read: their levels were as we read them, and their targets are the
same after a re-read of the others, unless they share a Peoplevox item at the site with a stale row
(`Plan.sharing`): those are held back with the stale rows. After the round the stale rows are
re-read (a sale or a cancellation moved them), the held rows' targets recomputed with the fresh
`committed`, and what still differs is sent again in small requests (`SMALL_ROWS`, rows sharing an
item kept together), so a row that moves again holds back only its request, whose other rows go
again at once; up to `MAX_ROUNDS` rounds, then the rest waits for the next run (queued). A row
applied this run whose target the re-read moved (it went in another request) goes again with them.
In a sale a large request seldom passes (every row must be as read), so after each answer the
size of the next requests adapts (`_next_size`): smaller after a stale one, twice as large after an
applied one. Nothing is ever written blind.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from sync_pipeline.lib.domain.stock_targets import Target
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.pending import LedgerWrite, PendingWrites
from sync_pipeline.lib.flows.stock.plan import Budget, Key, Plan, reread
from sync_pipeline.lib.flows.stock.ports import (
    QuantityWrite,
    StaleWrite,
    Storefront,
    WriteOutcomeUnknown,
    WriteRefused,
)
from sync_pipeline.lib.flows.stock.report import PushReport
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, stock_levels, stock_pushes, stock_snapshots
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger.stock_pushes import PushIntent

MAX_INPUT = 250
MAX_ROUNDS = 3
# Rows written ahead in one ledger transaction when the run has no budget: eight full requests.
WRITE_AHEAD_ROWS = 2_000
# Requests out at once when the run has no budget (the hourly reconcile). Each is a round trip and
# Shopify's own work on 250 rows; rows of different requests never share a level and each row is
# compare-and-set, so their order does not matter. The client's pacer reserves every request's cost
# before it goes, so they stay within the bucket together.
IN_FLIGHT = 3
# Rows per request for the rows re-read after a stale answer (and the rows sharing an item with them),
# before `_next_size` adapts it: a row that moves again sinks only its request.
SMALL_ROWS = 10


def _refused(target: Target, message: str) -> ExceptionRecord:
    return ExceptionRecord(
        kind=states.PUSH_REFUSED,
        owner=states.OWNERS[states.PUSH_REFUSED],
        message=f"Shopify refused to set {target.listing.sku} to {target.quantity}: {message}",
        subject=_subject((target.listing.sku, target.listing.location_id)),
    )


def _subject(key: Key) -> str:
    return f"{key[0]}@{key[1]}"


def _clear_refusals(con: duckdb.DuckDBPyConnection, applied: Sequence[Key]) -> None:
    """A refusal clears once a later push of the same SKU and location is applied."""
    refused = {subject for _, subject in ledger_exceptions.open_subjects(con, [states.PUSH_REFUSED])}
    for subject in refused.intersection(_subject(k) for k in applied):
        ledger_exceptions.resolve_for_subject(con, [states.PUSH_REFUSED], subject, "a later push was applied")


@dataclass(frozen=True)
class _Request:
    key: str  # the @idempotent key
    chunk: list[Key]
    intents: list[PushIntent]


def _batch_rows(budget: Budget, size: int) -> int:
    """Rows written ahead together: one request's when the run has a budget (checked before each);
    eight requests' while a sale keeps them small (`_next_size`), so the size can grow back soon."""
    if budget.limited:
        return size
    return max(size, WRITE_AHEAD_ROWS) if size >= MAX_INPUT else size * 8


def _groups(taken: list[Key], plan: Plan, size: int, by_item: bool) -> list[list[Key]]:
    """`taken` in requests of at most `size` rows (and Shopify's `MAX_INPUT`). `by_item`: rows sharing
    an item at the site stay in one request (they move together: one's sale moves the others'
    targets), unless that is more than `MAX_INPUT` rows."""
    size = max(1, min(size, MAX_INPUT))
    if not by_item:
        return [taken[start : start + size] for start in range(0, len(taken), size)]
    groups: list[list[Key]] = []
    current: list[Key] = []
    placed: set[Key] = set()
    position = {k: i for i, k in enumerate(taken)}
    for key in taken:
        if key in placed:
            continue
        together = sorted((k for k in plan.sharing([key]) if k in position and k not in placed and k != key),
                          key=position.__getitem__)  # fmt: skip
        family = [key, *together]
        placed.update(family)
        if current and len(current) + len(family) > size:
            groups.append(current)
            current = []
        current.extend(family)
    if current:
        groups.append(current)
    return [g[start : start + MAX_INPUT] for g in groups for start in range(0, len(g), MAX_INPUT)]


def _same_kind(taken: list[Key], alone: Collection[Key]) -> list[Key]:
    """The leading rows of `taken` that are all in `alone` or all not: a quiet row never shares a
    request with a row a sale may move (Shopify applies a request whole or not at all)."""
    if not alone or not taken:
        return taken
    kind = taken[0] in alone
    return taken[: next((i for i, k in enumerate(taken) if (k in alone) != kind), len(taken))]


def _next_size(size: int, rows: int, named: int) -> int:
    """Rows for the next requests after an answer. Every row of a request must be as we read it for
    any to apply, so in a sale a large request seldom passes: after a stale answer naming `named` of
    `rows`, about as many rows as went unmoved per moved one (at least `SMALL_ROWS`: the first answer
    counts the moves of the whole read-to-write time, longer than a resend's); after an applied one,
    twice as many."""
    if named:
        return max(SMALL_ROWS, (rows - named) // (named + 1))
    return min(MAX_INPUT, size * 2)


def _requests(
    taken: list[Key], targets: dict[Key, Target], plan: Plan, run_id: str | None, size: int, by_item: bool
) -> list[_Request]:
    """`taken`'s rows as requests (`_groups`), each with its idempotency key."""
    batch = []
    for chunk in _groups(taken, plan, size, by_item):
        intents = [PushIntent(k[0], targets[k].listing.inventory_item_id, k[1], plan.shown(targets[k]),
                              targets[k].quantity) for k in chunk]  # fmt: skip
        batch.append(_Request(f"stock-{(run_id or 'manual')[:8]}-{uuid.uuid4().hex[:16]}", chunk, intents))
    return batch


def write_targets(
    storefront: Storefront,
    ledger: Ledger,
    plan: Plan,
    order: Sequence[Key],
    report: PushReport,
    budget: Budget,
    now: datetime,
    run_id: str | None,
    pending: PendingWrites,
    quiet: Collection[Key] = frozenset(),
) -> dict[Key, str]:
    """Push every affected target Shopify does not show, in `order`; returns each key's outcome.
    `quiet`: rows no sale is moving (`order` puts them first); the first round sends them in requests
    of their own, so a sale moving another row cannot sink them with it. The run's first request
    always goes (`Budget.exhausted`): carrying only quiet rows, it is applied, however stale the
    moving rows come back and however soon the run's time is up. The last answers stay in `pending`,
    for the caller's next transaction."""
    targets = plan.targets()
    outcome: dict[Key, str] = {}
    differing = [k for k in order if k in targets and plan.shown(targets[k]) != targets[k].quantity]
    report.differing = len(differing)
    alone = set(quiet).intersection(differing)  # the first round's quiet rows (later rounds: re-read rows)
    rank = {k: i for i, k in enumerate(differing)}  # `order`'s order (quiet, then fastest), every round
    reference = f"gid://sync-pipeline/StockPush/{run_id or 'manual'}"
    # A run with a budget checks it before every request, so it sends one at a time.
    in_flight = 1 if budget.limited else max(1, IN_FLIGHT)
    small = False  # after the first round: the re-read rows, in small requests (`_groups`)
    with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="stock-push") as pool:
        for _ in range(MAX_ROUNDS):
            requests, applied = report.requests, report.applied
            stale, held = _send_all(
                storefront, ledger, plan, targets, differing, report, budget, now, run_id, pending,
                outcome, reference, pool, in_flight, small, alone,
            )  # fmt: skip
            alone = set()
            report.rounds.append((report.requests - requests, report.applied - applied))
            if not stale:
                return outcome
            if budget.exhausted():
                # No time or points left to send them: the held rows' items go back in the queue
                # (push.py), and the next run reads them afresh; a re-read now would be wasted.
                report.deferred += len(held)
                outcome.update(dict.fromkeys(held, "deferred"))
                return outcome
            # Shopify moved under the stale rows: read them again, recompute the rows held back with
            # them, and those applied meanwhile that depend on them; send what still differs.
            reread(storefront, plan, [targets[k].listing for k in stale], now, pending)
            targets = plan.targets()
            again = held | {k for k in plan.sharing(stale) if outcome.get(k) == "applied"}
            differing = sorted(
                (k for k in again if plan.shown(targets[k]) != targets[k].quantity), key=rank.__getitem__
            )
            outcome.update({k: "in_step" for k in held})
            outcome.update(dict.fromkeys(differing, "stale"))
            small = True
    report.stale_left += len(differing)
    return outcome


def _send_all(
    storefront: Storefront,
    ledger: Ledger,
    plan: Plan,
    targets: dict[Key, Target],
    differing: list[Key],
    report: PushReport,
    budget: Budget,
    now: datetime,
    run_id: str | None,
    pending: PendingWrites,
    outcome: dict[Key, str],
    reference: str,
    pool: ThreadPoolExecutor,
    in_flight: int,
    small: bool,
    alone: Collection[Key],
) -> tuple[list[Key], set[Key]]:
    """One round: every row of `differing` written ahead and sent, up to `in_flight` requests at a
    time; the next batch is written ahead while the last one's requests are out. Answers are
    settled on this thread, in the order the requests went. A stale request's rows Shopify did not
    name go again at once, unless they depend on a named one. No request mixes rows of `alone` (the
    quiet rows) with others. Returns (stale rows, rows held back for the re-read: the stale ones
    and those depending on them)."""
    size = min(SMALL_ROWS, MAX_INPUT) if small else MAX_INPUT  # rows per request, from here (`_next_size`)
    stale: list[Key] = []  # rows Shopify found stale: read again
    held: set[Key] = set()  # recomputed after the re-read, and sent again if they still differ
    queue = list(differing)
    written: deque[_Request] = deque()  # written ahead, not sent yet
    out: deque[tuple[_Request, Future[Exception | None]]] = deque()
    while True:
        if not written and queue:
            if budget.exhausted(sent_any=report.requests > 0):
                report.deferred += len(queue)
                outcome.update(dict.fromkeys(queue, "deferred"))
                queue = []
            else:
                taken = _same_kind(queue[: _batch_rows(budget, size)], alone)
                queue = queue[len(taken) :]
                with ledger.transaction() as con:
                    pending.write(con)  # earlier answers and reads
                    # A figure another run read afresh since this one read its own: that run pushes
                    # it, and this run's older target must not overwrite it (its write may even pass
                    # the compare-and-set: this run read Shopify after the other wrote).
                    replaced = stock_snapshots.replaced_since(con, plan.computed_from(taken))
                    dropped = {k for k in taken if replaced and plan.uses_any(k, replaced)}
                    batch = _requests(
                        [k for k in taken if k not in dropped], targets, plan, run_id, size, small
                    )
                    # Stamped when written ahead, not with the run's start: the settle age of pushes
                    # in doubt (another run's read-back) counts from here, and a reconcile sends for minutes.
                    sent_at = datetime.now(UTC)
                    stock_pushes.mark_sending_many(con, [(r.key, r.intents) for r in batch], run_id, sent_at)
                report.superseded += len(dropped)
                outcome.update(dict.fromkeys(dropped, "superseded"))
                written.extend(batch)
        while written and len(out) < in_flight:
            request = written.popleft()
            budget.sending()  # the first request starts the run's clock
            report.requests += 1
            out.append((request, pool.submit(_call, storefront, request, reference)))
        if not out:
            return stale, held
        request, answer = out.popleft()
        # A failure other than Shopify's answers (the process dying) propagates from here; requests
        # still out are left `sending`, and the next run reads them back before anything else.
        error = answer.result()
        named, go_again = _settle_answer(request, error, plan, targets, report, outcome, pending, now)
        if named or error is None:
            size = _next_size(size, len(request.chunk), len(named))
        if named:
            stale.extend(named)
            # A row sharing an item with a stale one waits for its re-read (its target may move),
            # whether it was in that request or not sent yet; rows already written ahead or out are
            # compare-and-set, and re-checked after the re-read when applied.
            depending = plan.sharing(named)
            held.update(
                named, (k for k in request.chunk if k in depending), (k for k in queue if k in depending)
            )
            queue = [k for k in queue if k not in depending]
            go_again = [k for k in go_again if k not in held]
        # Rows refused only for keeping bad company (a stale or refused row in their request) go
        # again at once, in new requests with new keys.
        queue = go_again + queue


def _call(storefront: Storefront, request: _Request, reference: str) -> Exception | None:
    """The request itself (on a worker thread): Shopify's refusal, or None when it was applied."""
    writes = [QuantityWrite(i.inventory_item_id, i.location_id, i.to_quantity, i.from_quantity or 0)
              for i in request.intents]  # fmt: skip
    try:
        storefront.set_available(writes, request.key, reference)
    except (StaleWrite, WriteRefused, WriteOutcomeUnknown) as error:
        return error
    return None


def _settle_answer(
    request: _Request,
    error: Exception | None,
    plan: Plan,
    targets: dict[Key, Target],
    report: PushReport,
    outcome: dict[Key, str],
    pending: PendingWrites,
    now: datetime,
) -> tuple[list[Key], list[Key]]:
    """One request's answer. Returns (stale rows, rows to send again as they are: refused only for
    keeping bad company)."""
    key, chunk, intents = request.key, request.chunk, request.intents
    if isinstance(error, StaleWrite):
        rows = error.indices or list(range(len(chunk)))
        pending.add(_settle(key, stock_pushes.STALE, now, str(error)[:500]))
        report.stale += len(rows)
        # Nothing of the request was applied. The rows Shopify did not name were as we read them:
        # they go again at once (the caller holds back those whose target depends on a stale row).
        named = set(rows)
        return [chunk[i] for i in rows], [k for i, k in enumerate(chunk) if i not in named]
    if isinstance(error, WriteRefused):
        rows = error.indices or list(range(len(chunk)))
        refusals = [_refused(targets[chunk[i]], str(error)) for i in rows]
        pending.add(_settle(key, stock_pushes.REFUSED, now, str(error)[:500], refusals))
        report.refused += len(rows)
        outcome.update({chunk[i]: "refused" for i in rows})
        # The others were refused only for keeping bad company: they go again.
        return [], [k for i, k in enumerate(chunk) if error.indices and i not in set(rows)]
    if isinstance(error, WriteOutcomeUnknown):
        # Left `sending`: the next run reads the levels back (in_doubt.py) before anything else.
        report.outcome_unknown += len(chunk)
        outcome.update(dict.fromkeys(chunk, "outcome_unknown"))
        return [], []
    pending.add(_applied(key, chunk, intents, now))
    for k, intent in zip(chunk, intents, strict=True):
        plan.wrote(intent.inventory_item_id, intent.location_id, intent.to_quantity)
        outcome[k] = "applied"
    report.applied += len(chunk)
    return [], []


def _settle(
    key: str, state: str, now: datetime, message: str, refusals: list[ExceptionRecord] | None = None
) -> LedgerWrite:
    def write(con: duckdb.DuckDBPyConnection) -> None:
        stock_pushes.settle_request(con, key, state, now, message)
        if refusals:
            ledger_exceptions.open_or_touch(con, refusals)

    return write


def _applied(key: str, chunk: list[Key], intents: list[PushIntent], now: datetime) -> LedgerWrite:
    def write(con: duckdb.DuckDBPyConnection) -> None:
        stock_pushes.settle_request(con, key, stock_pushes.APPLIED, now)
        _clear_refusals(con, chunk)
        stock_levels.set_available(
            con, [(i.inventory_item_id, i.location_id, i.to_quantity) for i in intents], now
        )

    return write
