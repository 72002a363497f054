"""`others_waiting` and `give_stranded_slots` (defs/pool_waiters.py) against a real test instance's
pool records: the fulfil step runs on past its budget only while it says nobody waits for
`shopify_fulfil`; a step Dagster's queue left beside a free slot is given it."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.defs.brand import LEDGER, SHOPIFY_FULFIL
from sync_pipeline.defs.pool_waiters import give_stranded_slots, others_waiting
from sync_pipeline.defs.pools_unstranded import pools_unstranded

POOL = "shopify_fulfil"


def test_a_step_waiting_for_the_pool_is_seen_and_the_holder_itself_is_not() -> None:
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        assert storage.claim_concurrency_slot(POOL, "fulfil-run", "shopify_fulfilments").is_claimed
        waiting = others_waiting(instance, POOL, "fulfil-run")
        assert waiting is not None
        assert not waiting()  # only our own claim on the pool

        # Another despatch run's fulfil step asks for the slot and is queued behind us.
        assert not storage.claim_concurrency_slot(POOL, "ingest-run", "shopify_fulfilments").is_claimed
        assert waiting()
        # Another pool's queue is not ours.
        assert others_waiting(instance, "shopify_orders", "fulfil-run")() is False  # type: ignore[misc]

        # We hand the slot over: the ingest step is given it and nobody waits any more.
        storage.free_concurrency_slots_for_run("fulfil-run")
        assert storage.claim_concurrency_slot(POOL, "ingest-run", "shopify_fulfilments").is_claimed
        assert not others_waiting(instance, POOL, "ingest-run")()  # type: ignore[misc]


def test_a_step_stranded_beside_a_free_slot_is_given_it_by_the_sensor() -> None:
    """Dagster asks whether a slot is unassigned, then queues the step (assigned only if so); a
    step that frees the slot in between hands it to a queue the new step is not in yet. Replayed
    here step by step on a real instance; the `pools_unstranded` sensor then gives it the slot."""
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(LEDGER, 1)
        assert storage.claim_concurrency_slot(LEDGER, "run-a", "check_a").is_claimed
        # run-b's claim: "any unassigned slot?" no (run-a holds it) ...
        assert not storage.has_unassigned_slots(LEDGER)
        # ... run-a finishes its step meanwhile and frees the slot to the queue, which is empty ...
        storage.free_concurrency_slot_for_step("run-a", "check_a")
        # ... and run-b's step joins the queue unassigned.
        storage.add_pending_step(LEDGER, "run-b", "check_b", should_assign=False)
        for _ in range(3):  # its polls never get the free slot
            assert not storage.claim_concurrency_slot(LEDGER, "run-b", "check_b").is_claimed
        assert give_stranded_slots(instance, (SHOPIFY_FULFIL,)) == []  # another pool: nothing to give

        result = pools_unstranded(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SkipReason)
        assert f"{LEDGER}: run-b/check_b" in (result.skip_message or "")
        assert storage.claim_concurrency_slot(LEDGER, "run-b", "check_b").is_claimed
        # A pool whose slot is taken, or whose queue is empty, is left alone.
        assert not storage.claim_concurrency_slot(LEDGER, "run-c", "check_c").is_claimed
        assert give_stranded_slots(instance, (LEDGER,)) == []
        assert not storage.claim_concurrency_slot(LEDGER, "run-c", "check_c").is_claimed
