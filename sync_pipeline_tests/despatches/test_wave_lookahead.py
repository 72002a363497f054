"""The senders keep sending while the next wave is claimed (against both sandboxes, a real ledger).

At session 21's rehearsal a wave's ledger transaction (the claims of the next wave and the answers
so far) held the ledger 0.2-0.5 s and waited for it up to ~1 s, while a round of sends took ~0.2 s.
The next wave used to be claimed once fewer than one round of orders waited to start, so the
senders stood idle through most of every claim: the fulfil step made 2,767 fulfilments a minute
with Shopify's bucket at 0.65 of its restore rate. Now it is claimed `CLAIM_AHEAD_ROUNDS` rounds
ahead, and the senders go on through a slow claim."""

from __future__ import annotations

import time

import pytest

from sync_pipeline.lib.flows.despatches import answers as answers_module
from sync_pipeline.lib.flows.despatches import fulfil as fulfil_module
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.ledger import fulfilments as ledger_fulfilments
from sync_pipeline_tests.despatches.helpers import (
    TimedSends,
    despatch_rules,
    despatched_one_each,
    emails_for,
)
from sync_pipeline_tests.orders.conftest import Stack

SLOW_CLAIM_SECONDS = 5.0
SEND_SECONDS = 0.25


@pytest.mark.timeout(300)
def test_sends_go_on_while_the_next_wave_is_claimed(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    concurrency = 2
    rules = despatch_rules(stack, fulfil_concurrency=concurrency)
    monkeypatch.setattr(answers_module, "WAVE_PER_SENDER", 4)  # waves of 8 orders
    # All 24 orders in the run's first batch, so its three waves go in one `send_all`. (The first
    # batch is 4 orders a sender: 8 here, one wave; the next batch's first claim then came with no
    # send under way, and "sends went on during it" could not hold.)
    monkeypatch.setattr(fulfil_module, "FIRST_BATCH_PER_SENDER", 12)
    claims: list[tuple[float, float]] = []
    claim_many = ledger_fulfilments.claim_many
    # Each send takes a quarter of a second (a round trip at a peak), so the wave written just before
    # a claim is still mostly waiting to start when the claim's transaction gets to it (fast sends
    # had all begun while the answers ahead of it were written, and the test failed now and then).
    timed = TimedSends(stack.source.client, SEND_SECONDS)

    def slow_claim(con, numbers, run_id):  # type: ignore[no-untyped-def]
        if not numbers or not timed.began:  # answers with no wave to claim, or the first wave
            return claim_many(con, numbers, run_id)
        # A busy ledger: the claim's transaction holds on (waiting for a core, say) until more than
        # a round of sends has begun meanwhile, or for `SLOW_CLAIM_SECONDS` at most. (A fixed 0.6 s
        # hold asked the senders for three sends in 0.6 s, which a loaded machine need not give.)
        began = time.monotonic()
        before = len(timed.began)
        while len(timed.began) <= before + concurrency and time.monotonic() < began + SLOW_CLAIM_SECONDS:
            time.sleep(0.01)
        claimed = claim_many(con, numbers, run_id)
        claims.append((began, time.monotonic()))
        return claimed

    monkeypatch.setattr(ledger_fulfilments, "claim_many", slow_claim)
    placed = despatched_one_each(stack, "CAP-NVY", 24)
    done = fulfil(timed, stack.ledger, rules, "test", max_seconds=120)
    assert (done.fulfilled, done.caught_up) == (24, True), done.summary
    assert all(len(emails_for(stack, oid)) == 1 for oid in placed)
    # Three waves, so two claims made while sends were going out (the first comes before any send).
    assert len(claims) == 2, claims
    for began, ended in claims:
        during = sum(1 for t in timed.began if began <= t <= ended)
        # Claimed one round ahead, at most `concurrency - 1` orders were left to start during a
        # claim; now the senders keep going through it.
        assert during > concurrency, f"{during} sends began during a {ended - began:.2f} s claim"
