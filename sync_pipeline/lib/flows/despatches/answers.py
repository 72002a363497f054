"""Send the fulfilments written ahead, and write what Shopify answers.

Orders go in parallel (`send.py`) in waves, none started after the run's deadline but the first
few. One transaction a wave claims its packages and writes the answers so far, while the wave
before is still going out: created → the
package is `fulfilled` (and our own order version recorded, so the orders ingest does not read it
again), refused → `blocked` with `fulfilment_refused`, unknown → left `sending` for the next run's
lookup (`in_doubt.py`). An answer not yet written when the run dies is found by that lookup (the
row is still `sending`): nothing is sent twice. What was written ahead and never sent goes back to
`pending` at once (only this run's own attempts). Each package is claimed just before its wave,
again on its own if its turn comes late (`send_all`): one another run's in-doubt lookup took over
meanwhile is not sent (that run has it), and the client retries a send only while its claim is
fresh. An answer is written over this run's own claim only; one that comes back after another run
took the package over is recorded as found, or, when that run's own fulfilment is recorded already,
as `fulfilled_twice` (CX).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision
from sync_pipeline.lib.flows.despatches.ports import (
    CreatedFulfilment,
    FulfilmentNotSentError,
    FulfilmentOutcomeUnknownError,
    FulfilmentRefusedError,
    Storefront,
)
from sync_pipeline.lib.flows.despatches.record import (
    not_made,
    refresh_order_states,
    settle_many,
    take_corrected_lines,
)
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.send import GroupSender
from sync_pipeline.lib.flows.orders.observed import SETTLE
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, fulfilment_checks, own_versions
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.fulfilments import FulfilmentIntent

# A wave is this many orders per sender: one ledger transaction claims them all (and writes the
# wave before's answers), instead of a transaction a package, which serialised the senders on the
# ledger lock (about 41 ms an empty transaction at load 10 while each opened its own DuckDB; 6-10 ms
# with the file attached, session 11; more with other runs writing).
WAVE_PER_SENDER = 8
# The next wave is claimed once fewer than this many rounds (one order per sender) of the waves
# claimed so far wait to start. The claim and the answers written with it hold the ledger for
# 0.2-0.5 s and wait for it up to ~1 s at a peak (session 21's rehearsal: the wave writes were the
# ledger's largest holder), while a round takes ~0.2 s: with one round ahead the senders stood idle
# for most of every wave write. A claim stays good for `settle_seconds / 2` (30 s), far beyond
# these rounds; a package sent later is claimed again on its own.
CLAIM_AHEAD_ROUNDS = 6
# Answers are written at least this often even when no next wave is claimed (Shopify is slow or
# throttling): an answer held back for long is one another run's lookup might record first.
LONG_WAVE_SECONDS = 5.0


@dataclass(frozen=True)
class Sent:
    decision: Decision
    order_id: str
    intent: FulfilmentIntent
    # The order's updatedAt in the read this send was planned from: if the ledger held that
    # version in full, the version our fulfilment produces is ours alone (`own_versions`).
    version_before: datetime | None = None


def send_all(
    storefront: Storefront,
    ledger: Ledger,
    to_send: list[Sent],
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
    deadline: float,
    settle_seconds: float,
    stop: Callable[[], bool] | None = None,
) -> set[str]:
    """Send what was written ahead, wave after wave of orders (in parallel within a wave, none
    started after `deadline` but the first few, nor after `stop()` says so between waves: the step
    hands its pool over), and put back what was never sent. Returns the packages put back because
    the deadline or the hand-over came (a run that goes on after all sends them again).

    One ledger transaction a wave: it records the answers so far and claims this wave's packages
    (each claim still compare-and-set on this run's attempt), while the wave before is still going
    out (`GroupSender`), so the senders never wait for the ledger. A claim is good for
    `settle_seconds / 2`: a package whose turn comes later than that (an earlier package of its order
    was slow) is claimed again on its own just before its call, so another run's in-doubt lookup,
    which waits `settle_seconds`, can never take over a package this run is about to send."""
    concurrency = rules.despatches.fulfil_concurrency
    groups: dict[str, list[Sent]] = {}
    for s in to_send:
        groups.setdefault(s.order_id, []).append(s)
    orders = list(groups.values())
    size = max(1, concurrency * WAVE_PER_SENDER)
    waves = [[s for g in orders[i : i + size] for s in g] for i in range(0, len(orders), size)]
    answered: set[str] = set()
    not_taken: dict[str, str] = {}  # package → why Shopify did not run its fulfillmentCreate
    waiting: list[_Result] = []  # answers not yet written: they go with the next transaction
    last_write = time.monotonic()

    def write(claim: list[Sent]) -> set[str]:
        """One transaction: the answers so far, and the claims of the wave about to go."""
        nonlocal last_write
        with ledger.transaction() as con:
            _record(con, waiting, rules, actor, report)
            waiting.clear()
            claimed = ledger_fulfilments.claim_many(con, [s.intent.package_number for s in claim], actor)
        last_write = time.monotonic()
        return claimed

    def take(results: list[_Result]) -> None:
        not_taken.update({r.sent.intent.package_number: r.not_sent for r in results if r.not_sent})
        answers = [r for r in results if not r.not_ours and not r.not_sent]
        answered.update(r.sent.intent.package_number for r in answers)
        waiting.extend(answers)
        if waiting and time.monotonic() - last_write >= LONG_WAVE_SECONDS:
            # Slow going (Shopify throttling, retries): what came is written as it comes.
            write([])

    try:
        with GroupSender[Sent, _Result](concurrency, deadline) as sender:
            for index, wave in enumerate(waves):
                if index:
                    # The next wave is claimed while this one is still going out, once fewer than
                    # `CLAIM_AHEAD_ROUNDS` rounds of orders wait to start: the senders go from one
                    # wave into the next without waiting for the ledger (they used to, a transaction
                    # and the wave's slowest order each time).
                    # Another step waiting for the pool is asked after each answer, not only
                    # between waves: the waves claimed ahead would otherwise all be sent first.
                    sender.collect(
                        take,
                        until=lambda: (
                            sender.waiting_to_start < concurrency * CLAIM_AHEAD_ROUNDS
                            or sender.failure is not None
                            or (stop is not None and stop())
                        ),
                    )
                    if (
                        sender.failure is not None
                        or time.monotonic() >= deadline
                        or (stop is not None and stop())
                    ):
                        # What was claimed ahead and not begun is not sent (the orders begun go to
                        # their end): back to `pending` below, for the step taking over.
                        sender.stop_starting()
                        break
                # Timed from before the claim (its attempt time is set inside), so it errs early.
                fresh_until = time.monotonic() + settle_seconds / 2
                claimed = write(wave)
                by_order: dict[str, list[Sent]] = {}
                for s in wave:
                    by_order.setdefault(s.order_id, []).append(s)
                sender.submit(
                    list(by_order.values()),
                    lambda s, claimed=claimed, until=fresh_until: _send(
                        storefront, ledger, s, actor, claimed, until, settle_seconds / 2
                    ),
                )
            sender.collect(take)
        if sender.failure is not None:
            raise sender.failure
    except BaseException:
        # A call raised (what it sent, if anything, stays `sending` for the lookup): what did
        # answer is still written.
        if waiting:
            with ledger.transaction() as con:
                _record(con, waiting, rules, actor, report)
        raise
    unsent = [s for s in to_send if s.intent.package_number not in answered]
    put_back: set[str] = set()
    if waiting or unsent:
        with ledger.transaction() as con:
            _record(con, waiting, rules, actor, report)
            put_back = _not_sent(con, unsent, not_taken, rules, actor, report)
    return put_back


def _not_sent(
    con: duckdb.DuckDBPyConnection,
    unsent: list[Sent],
    not_taken: dict[str, str],
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
) -> set[str]:
    """Written ahead, never sent (the time budget ran out before their order started), or sent and
    certainly not run (`not_taken`: throttled until the client gave up): not in Shopify, so back to
    `pending` now rather than left `sending` for a lookup. Only rows still this run's attempt:
    another run's lookup may have taken one over meanwhile. Returns those put back for the budget."""
    if not unsent:
        return set()
    withdrawn: set[str] = set()
    for_budget: set[str] = set()
    for why, numbers in _by_reason(unsent, not_taken).items():
        mine = ledger_fulfilments.withdraw_unsent(con, numbers, actor, f"not sent: {why}")
        withdrawn |= mine
        if why == BUDGET:
            for_budget |= mine
        back = [n for n in dict.fromkeys(numbers) if n in mine]
        ledger_despatches.set_states(
            con,
            [
                ledger_despatches.StateChange(n, states.PENDING, f"left for the next run ({why})", {}, {})
                for n in back
            ],
        )
        not_made(con, back, f"left for the next run ({why})")
        take_corrected_lines(con, back, "not sent to Shopify")
    refresh_order_states(
        con, list(dict.fromkeys(s.order_id for s in unsent)), rules, actor, report.order_states
    )
    report.left_for_next_run += len(withdrawn)
    return for_budget


BUDGET = "the run's time budget ran out"


def _by_reason(unsent: list[Sent], not_taken: dict[str, str]) -> dict[str, list[str]]:
    reasons: dict[str, list[str]] = {}
    for s in unsent:
        number = s.intent.package_number
        why = f"Shopify did not take it: {not_taken[number]}" if number in not_taken else BUDGET
        reasons.setdefault(why, []).append(number)
    return reasons


@dataclass(frozen=True)
class _Result:
    sent: Sent
    fulfilment: CreatedFulfilment | None = None
    refused: str | None = None
    unknown: bool = False
    not_ours: bool = False  # another run's lookup took the write-ahead over before we sent it
    not_sent: str | None = None  # Shopify certainly did not run it (throttled until we gave up)


def _send(
    storefront: Storefront,
    ledger: Ledger,
    sent: Sent,
    actor: str,
    claimed: set[str],
    fresh_until: float,
    hold: float,
) -> _Result:
    # Claimed at the send, not only at the write-ahead (the batch's sends may go on for the whole
    # time budget): a row another run has taken over since is not sent a second time. The wave's
    # claim covers it while fresh; past that, it is claimed again on its own, good for `hold`.
    # The client retries the send (429, THROTTLED) only while the claim is fresh: a retry after
    # it could reach Shopify after another run's lookup (`settle_seconds` after the claim) found
    # nothing and sent the package itself. Past it the send is "not sent" (pending again).
    number = sent.intent.package_number
    if number not in claimed:
        return _Result(sent, not_ours=True)
    until = fresh_until
    if time.monotonic() >= fresh_until:
        claiming = time.monotonic()
        with ledger.transaction() as con:
            if not ledger_fulfilments.claim_for_sending(con, number, actor):
                return _Result(sent, not_ours=True)
        until = claiming + hold
    try:
        made = storefront.create_fulfilment(
            sent.decision.request, sent.decision.tracking, sent.intent.notify_customer, retry_until=until
        )
    except FulfilmentRefusedError as error:
        return _Result(sent, refused=str(error))
    except FulfilmentOutcomeUnknownError:
        return _Result(sent, unknown=True)
    except FulfilmentNotSentError as error:
        return _Result(sent, not_sent=str(error))
    return _Result(sent, fulfilment=made)


def _record(
    con: duckdb.DuckDBPyConnection,
    results: list[_Result],
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
) -> None:
    if not results:
        return
    events, problems = [], []
    ours: list[tuple[str, datetime, datetime]] = []
    written: list[tuple[str, datetime]] = []  # (order, Shopify's version after our fulfilment)
    # Written in bulk (a statement or two a wave, not a package): a statement a package held the
    # fulfil step's one ledger thread for most of a wave.
    fulfilled: list[ledger_despatches.StateChange] = []
    tracked: list[str] = []
    made = [(r, r.fulfilment) for r in results if r.fulfilment is not None]
    # Compare and set on this run's claim: an answer that comes back after another run took the
    # package over is recorded as found, never over a fulfilment already recorded.
    outcomes = ledger_fulfilments.mark_created_many(
        con,
        [ledger_fulfilments.Created(r.sent.intent.package_number, f.id, f.name, r.sent.intent.tracking_number,
                                    r.sent.intent.line_quantities) for r, f in made],
        run_id=actor,
    )  # fmt: skip
    for (r, f), outcome in zip(made, outcomes, strict=True):
        d, i = r.sent.decision, r.sent.intent
        fid, name = f.id, f.name
        if r.sent.version_before and f.order_version:
            ours.append((r.sent.order_id, r.sent.version_before, f.order_version))
        if f.order_version:
            written.append((r.sent.order_id, f.order_version))
        if outcome == ledger_fulfilments.ALREADY:  # another run's lookup found it first
            report.in_doubt["answered_after_lookup"] += 1
            continue
        if outcome == ledger_fulfilments.DUPLICATE:
            problems.append(_fulfilled_twice(con, r, name))
            events.append(OrderEvent(r.sent.order_id, "fulfilled_twice", actor,
                                     reason=f"{d.package_number}: also fulfilled in Shopify as {name}",
                                     detail={"fulfillment_id": fid, "lines": i.line_quantities}))  # fmt: skip
            report.in_doubt["fulfilled_twice"] += 1
            continue
        fulfilled.append(
            ledger_despatches.StateChange(
                d.package_number, states.FULFILLED, f"fulfilled as {name}", d.line_quantities, d.excess
            )
        )
        if i.tracking_number:
            tracked.append(d.package_number)
        tracked.extend(pooled for pooled, number in d.carries if number)  # their numbers rode on it
        tracking = (
            f", tracking {i.tracking_company} {i.tracking_number}"
            if i.tracking_number
            else ", no tracking yet"
        )
        late = " (answered after another run took it over)" if outcome == ledger_fulfilments.FOUND else ""
        events.append(OrderEvent(r.sent.order_id, "fulfilled", actor,
                                 reason=f"{d.package_number} fulfilled in Shopify as {name}{tracking}{late}",
                                 detail={"fulfillment_id": fid, "lines": i.line_quantities}))  # fmt: skip
        report.fulfilled += 1
        report.fulfilments.append((d.package_number, name, i.tracking_number or ""))
    refused = {r.sent.intent.package_number: (r, r.refused) for r in results if r.refused is not None}
    # Only rows still this run's attempt: for one another run took over, its attempt or verdict stands.
    failed = ledger_fulfilments.mark_failed_many(
        con, [(number, why) for number, (_, why) in refused.items()], run_id=actor
    )
    blocked = [r for number, (r, _) in refused.items() if number in failed]
    ledger_despatches.set_states(
        con,
        [ledger_despatches.StateChange(r.sent.intent.package_number, states.BLOCKED, "refused by Shopify", {}, {})
         for r in blocked],
    )  # fmt: skip
    not_made(con, [r.sent.intent.package_number for r in blocked], "Shopify refused the fulfilment")
    take_corrected_lines(con, [r.sent.intent.package_number for r in blocked], "refused by Shopify")
    for r in blocked:
        number = r.sent.intent.package_number
        problems.append(
            ExceptionRecord(
                kind="fulfilment_refused",
                owner=states.OWNERS["fulfilment_refused"],
                message=f"Shopify refused the fulfilment of package {number}: {r.refused}",
                shopify_order_id=r.sent.order_id,
                subject=number,
            )
        )
    report.refused += len(blocked)
    report.outcome_unknown += sum(1 for r in results if r.fulfilment is None and r.refused is None)
    settle_many(con, fulfilled)
    # Shopify holds the lines it was sent with: any Peoplevox reported since stay with the
    # `despatch_changed_after_fulfilment` the read opened (until 2026-12-01 they stayed aside for
    # good, as if the package's answer were still awaited).
    ledger_despatches.drop_reported_items(con, [c.package_number for c in fulfilled])
    ledger_exceptions.resolve_for_subjects(con, ["tracking_missing"], tracked, "tracking sent")
    report.exceptions_opened += ledger_exceptions.open_or_touch(con, problems)
    ledger_events.append(con, events)
    # So the orders ingest does not read in full an order only this fulfilment changed.
    own_versions.record(con, ours, SETTLE)
    # So the cancel check compares Shopify's versions with Shopify's, not with our clock.
    fulfilment_checks.record_own_writes(con, written)
    refresh_order_states(
        con, list(dict.fromkeys(r.sent.order_id for r in results)), rules, actor, report.order_states
    )


def _fulfilled_twice(con: duckdb.DuckDBPyConnection, r: _Result, name: str) -> ExceptionRecord:
    number = r.sent.intent.package_number
    rows = ledger_fulfilments.for_orders(con, [r.sent.order_id]).get(r.sent.order_id, [])
    first = next((f.fulfillment_name for f in rows if f.intent.package_number == number), None)
    return ExceptionRecord(
        kind="fulfilled_twice",
        owner=states.OWNERS["fulfilled_twice"],
        message=f"Shopify holds two fulfilments of package {number}: {first} (recorded) and {name} "
        "(answered after another run had taken the package over); cancel "
        f"{name} in Shopify",
        shopify_order_id=r.sent.order_id,
        subject=number,
    )
