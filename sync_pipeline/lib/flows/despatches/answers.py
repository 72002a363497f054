"""Send the fulfilments written ahead, and write what Shopify answers as it comes.

Orders go in parallel (`send.py`), none started after the run's deadline but the first few; each
batch of answers is one transaction: created → the package is `fulfilled` (and our own order
version recorded, so the orders ingest does not read it again), refused → `blocked` with
`fulfilment_refused`, unknown → left `sending` for the next run's lookup (`in_doubt.py`). What was
written ahead and never sent goes back to `pending` at once (only this run's own attempts).
Each package is claimed again just before its call (`claim_for_sending`): one another run's
in-doubt lookup took over meanwhile is not sent (that run has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
from sync_pipeline.lib.flows.despatches.record import not_made, refresh_order_states, settle
from sync_pipeline.lib.flows.despatches.report import FulfilReport
from sync_pipeline.lib.flows.despatches.send import send_grouped
from sync_pipeline.lib.flows.orders.observed import SETTLE
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent, own_versions
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline.lib.ledger.fulfilments import FulfilmentIntent


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
) -> None:
    """Send what was written ahead (orders in parallel, none started after `deadline` but the
    first few), record each answer as it comes, and put back what was never sent."""
    answered: set[str] = set()
    not_taken: dict[str, str] = {}  # package → why Shopify did not run its fulfillmentCreate

    def record(results: list[_Result]) -> None:
        not_taken.update({r.sent.intent.package_number: r.not_sent for r in results if r.not_sent})
        answers = [r for r in results if not r.not_ours and not r.not_sent]
        answered.update(r.sent.intent.package_number for r in answers)
        if answers:
            _record(ledger, answers, rules, actor, report)

    send_grouped(
        to_send,
        lambda s: s.order_id,
        lambda s: _send(storefront, ledger, s, actor),
        record,
        rules.despatches.fulfil_concurrency,
        deadline=deadline,
    )
    unsent = [s for s in to_send if s.intent.package_number not in answered]
    _not_sent(ledger, unsent, not_taken, rules, actor, report)


def _not_sent(
    ledger: Ledger,
    unsent: list[Sent],
    not_taken: dict[str, str],
    rules: BusinessRules,
    actor: str,
    report: FulfilReport,
) -> None:
    """Written ahead, never sent (the time budget ran out before their order started), or sent and
    certainly not run (`not_taken`: throttled until the client gave up): not in Shopify, so back to
    `pending` now rather than left `sending` for a lookup. Only rows still this run's attempt:
    another run's lookup may have taken one over meanwhile."""
    if not unsent:
        return
    with ledger.transaction() as con:
        withdrawn: set[str] = set()
        for why, numbers in _by_reason(unsent, not_taken).items():
            withdrawn |= ledger_fulfilments.withdraw_unsent(con, numbers, actor, f"not sent: {why}")
            for number in set(numbers) & withdrawn:
                ledger_despatches.set_state(
                    con, number, states.PENDING, f"left for the next run ({why})", {}, {}
                )
                not_made(con, number, f"left for the next run ({why})")
        refresh_order_states(
            con, list(dict.fromkeys(s.order_id for s in unsent)), rules, actor, report.order_states
        )
    report.left_for_next_run += len(withdrawn)


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


def _send(storefront: Storefront, ledger: Ledger, sent: Sent, actor: str) -> _Result:
    # Claimed at the send, not only at the write-ahead (the batch's sends may go on for the whole
    # time budget): a row another run has taken over since is not sent a second time.
    with ledger.transaction() as con:
        if not ledger_fulfilments.claim_for_sending(con, sent.intent.package_number, actor):
            return _Result(sent, not_ours=True)
    try:
        made = storefront.create_fulfilment(
            sent.decision.request, sent.decision.tracking, sent.intent.notify_customer
        )
    except FulfilmentRefusedError as error:
        return _Result(sent, refused=str(error))
    except FulfilmentOutcomeUnknownError:
        return _Result(sent, unknown=True)
    except FulfilmentNotSentError as error:
        return _Result(sent, not_sent=str(error))
    return _Result(sent, fulfilment=made)


def _record(
    ledger: Ledger, results: list[_Result], rules: BusinessRules, actor: str, report: FulfilReport
) -> None:
    with ledger.transaction() as con:
        events, problems = [], []
        ours: list[tuple[str, datetime, datetime]] = []
        for r in results:
            d, i = r.sent.decision, r.sent.intent
            if r.fulfilment is not None:
                fid, name = r.fulfilment.id, r.fulfilment.name
                if r.sent.version_before and r.fulfilment.order_version:
                    ours.append((r.sent.order_id, r.sent.version_before, r.fulfilment.order_version))
                ledger_fulfilments.mark_created(con, d.package_number, fid, name, i.tracking_number)
                settle(
                    con,
                    d.package_number,
                    states.FULFILLED,
                    f"fulfilled as {name}",
                    d.line_quantities,
                    d.excess,
                )
                if i.tracking_number:
                    ledger_exceptions.resolve_for_subject(
                        con, ["tracking_missing"], d.package_number, "tracking sent"
                    )
                tracking = (
                    f", tracking {i.tracking_company} {i.tracking_number}"
                    if i.tracking_number
                    else ", no tracking yet"
                )
                events.append(OrderEvent(r.sent.order_id, "fulfilled", actor,
                                         reason=f"{d.package_number} fulfilled in Shopify as {name}{tracking}",
                                         detail={"fulfillment_id": fid, "lines": i.line_quantities}))  # fmt: skip
                report.fulfilled += 1
                report.fulfilments.append((d.package_number, name, i.tracking_number or ""))
            elif r.refused is not None:
                ledger_fulfilments.mark_failed(con, d.package_number, r.refused)
                ledger_despatches.set_state(
                    con, d.package_number, states.BLOCKED, "refused by Shopify", {}, {}
                )
                not_made(con, d.package_number, "Shopify refused the fulfilment")
                problems.append(
                    ExceptionRecord(
                        kind="fulfilment_refused",
                        owner=states.OWNERS["fulfilment_refused"],
                        message=f"Shopify refused the fulfilment of package {d.package_number}: {r.refused}",
                        shopify_order_id=r.sent.order_id,
                        subject=d.package_number,
                    )
                )
                report.refused += 1
            else:
                report.outcome_unknown += 1  # stays `sending`: the next run looks it up first
        report.exceptions_opened += ledger_exceptions.open_or_touch(con, problems)
        ledger_events.append(con, events)
        # So the orders ingest does not read in full an order only this fulfilment changed.
        own_versions.record(con, ours, SETTLE)
        refresh_order_states(
            con, list(dict.fromkeys(r.sent.order_id for r in results)), rules, actor, report.order_states
        )
