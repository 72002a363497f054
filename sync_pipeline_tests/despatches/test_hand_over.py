"""A fulfil step that ran on hands its pool over soon after another step starts waiting for it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from sync_pipeline.lib.flows.despatches import answers as answers_module
from sync_pipeline.lib.flows.despatches import run as run_module
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    TimedSends,
    despatch_rules,
    despatched_one_each,
    emails_for,
    into_warehouse,
    ports,
)
from sync_pipeline_tests.orders.conftest import Stack

BUDGET = 2.5
SEND_SECONDS = 0.25


def test_a_step_that_ran_on_hands_over_when_another_starts_waiting(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each despatches run reads Peoplevox once, and the run after next starts only when the waiting
    one gets the pool: a step that moved its deadline on (nobody waited at its budget) and kept to it
    after the next run began waiting held every later read back by up to a whole budget (reads one
    a minute at the 60 s default, session 9's despatch benchmark). It now ends between waves once
    another step waits; what it wrote ahead and did not send goes back to `pending`, nothing in doubt,
    and the next step sends it, one fulfilment and one email a package."""
    monkeypatch.setattr(run_module, "RUN_ON_STEPS", 1000)  # the hard limit is not under test
    monkeypatch.setattr(run_module, "ASK_SECONDS", 0.0)
    monkeypatch.setattr(answers_module, "WAVE_PER_SENDER", 1)  # a wave a package: a boundary each send
    placed = [
        stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="TEE-BLK-M")], shipping_address=UK))["id"]
        for _ in range(24)
    ]
    numbers = into_warehouse(stack)
    for oid in placed:
        stack.pvx.despatch(numbers[oid], [{"TEE-BLK-M": 1}])
    read_despatches(ports(stack).source, stack.ledger, "test", datetime.now(UTC), timedelta(days=2))
    one_at_a_time = despatch_rules(stack, fulfil_concurrency=1)
    timed = TimedSends(stack.source.client, SEND_SECONDS)

    started = time.monotonic()
    waits_from = started + BUDGET + 0.3  # the next run's fulfil step queues just after the budget
    asked: list[float] = []

    def others_waiting() -> bool:
        asked.append(time.monotonic())
        return time.monotonic() >= waits_from

    done = fulfil(
        timed, stack.ledger, one_at_a_time, "run-a", max_seconds=BUDGET, others_waiting=others_waiting
    )
    ended = time.monotonic()
    assert done.ran_on >= 1, "nobody waited at the budget: the step moved its deadline on"
    assert any(t < waits_from for t in asked) and any(t >= waits_from for t in asked)
    after = [t for t in timed.began if t >= waits_from]
    # One send may be under way when the waiter comes (a wave of one order); before, the step went on
    # to the deadline it had moved on to: a whole budget, ~8 more sends at this pace.
    assert len(after) <= 2, (
        f"{len(after)} sends began after another step waited; the step ended {ended - waits_from:.1f} s after"
    )
    assert not done.caught_up and done.fulfilled < len(placed)
    with stack.ledger.transaction() as con:
        left = dict(con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state").fetchall())
    assert "sending" not in left  # nothing in doubt: the next step need not look anything up

    rest = fulfil(ShopifyStorefront(stack.source.client), stack.ledger, one_at_a_time, "run-b")
    assert rest.caught_up and done.fulfilled + rest.fulfilled == len(placed), rest.summary
    with stack.ledger.transaction() as con:
        package_states = {r[0] for r in con.execute("SELECT state FROM despatch_packages").fetchall()}
    assert package_states == {states.FULFILLED}
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)


def test_with_waves_claimed_rounds_ahead_the_hand_over_still_comes_within_a_round(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waves as configured (eight orders a sender, the next claimed `CLAIM_AHEAD_ROUNDS` rounds
    ahead), two senders. The step saw a waiting step only once fewer than six rounds of orders
    waited to start, and sent all of those after it: 12 and more sends after another step began to
    wait, where a wave a round ahead had sent at most one. Now the step asks while it waits for
    answers too, and at the hand-over no more than a round ahead starts; the rest goes back to
    `pending` (nothing in doubt) and the next step sends it."""
    monkeypatch.setattr(run_module, "RUN_ON_STEPS", 1000)
    monkeypatch.setattr(run_module, "ASK_SECONDS", 0.0)
    concurrency = 2
    placed = despatched_one_each(stack, "TEE-BLK-M", 48)
    two = despatch_rules(stack, fulfil_concurrency=concurrency)
    timed = TimedSends(stack.source.client, SEND_SECONDS)
    waits_from = time.monotonic() + BUDGET + 0.3

    done = fulfil(
        timed,
        stack.ledger,
        two,
        "run-a",
        max_seconds=BUDGET,
        others_waiting=lambda: time.monotonic() >= waits_from,
    )
    after = [t for t in timed.began if t >= waits_from]
    # Those under way when the waiter came are not counted; a round's answers may come before the
    # step sees it, and then at most a round less one starts.
    assert len(after) <= 2 * concurrency, f"{len(after)} sends began after another step waited"
    assert not done.caught_up and done.fulfilled < len(placed), done.summary
    with stack.ledger.transaction() as con:
        left = dict(con.execute("SELECT state, count(*) FROM shopify_fulfilments GROUP BY state").fetchall())
    assert "sending" not in left

    rest = fulfil(ShopifyStorefront(stack.source.client), stack.ledger, two, "run-b")
    assert rest.caught_up and done.fulfilled + rest.fulfilled == len(placed), rest.summary
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)
