"""`others_waiting` (defs/pool_waiters.py) against a real test instance's pool records: the fulfil
step runs on past its budget only while it says nobody waits for `shopify_fulfil`."""

from __future__ import annotations

import dagster as dg

from sync_pipeline.defs.pool_waiters import others_waiting

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
