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


def _strand(storage: object, pool: str, run_id: str, step_key: str) -> None:
    """Dagster's claim asks whether a slot is unassigned, then queues the step (assigned only if
    so); a step that frees the slot in between hands it to a queue the new step is not in yet.
    Replayed step by step on a real instance."""
    assert storage.claim_concurrency_slot(pool, "run-a", "check_a").is_claimed  # type: ignore[attr-defined]
    # The new claim: "any unassigned slot?" no (run-a holds it) ...
    assert not storage.has_unassigned_slots(pool)  # type: ignore[attr-defined]
    # ... run-a finishes its step meanwhile and frees the slot to the queue, which is empty ...
    storage.free_concurrency_slot_for_step("run-a", "check_a")  # type: ignore[attr-defined]
    # ... and the new step joins the queue unassigned.
    storage.add_pending_step(pool, run_id, step_key, should_assign=False)  # type: ignore[attr-defined]


def _assigned(storage: object, pool: str) -> list[str]:
    info = storage.get_concurrency_info(pool)  # type: ignore[attr-defined]
    return sorted(f"{s.run_id}/{s.step_key}" for s in info.pending_steps if s.assigned_timestamp)


def test_a_step_stranded_beside_a_free_slot_is_given_it_by_the_sensor_at_its_second_look() -> None:
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(LEDGER, 1)
        _strand(storage, LEDGER, "run-b", "check_b")
        for _ in range(3):  # its polls never get the free slot
            assert not storage.claim_concurrency_slot(LEDGER, "run-b", "check_b").is_claimed
        assert give_stranded_slots(instance, (SHOPIFY_FULFIL,), set()) == ([], set())  # another pool

        first = pools_unstranded(dg.build_sensor_context(instance=instance))
        assert isinstance(first, dg.SensorResult) and "1 step(s) wait" in (
            first.skip_reason.skip_message or ""
        )  # type: ignore[union-attr]
        assert not storage.claim_concurrency_slot(
            LEDGER, "run-b", "check_b"
        ).is_claimed  # not at the first look
        second = pools_unstranded(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert f"{LEDGER}: run-b/check_b" in (second.skip_reason.skip_message or "")  # type: ignore[union-attr]
        assert storage.claim_concurrency_slot(LEDGER, "run-b", "check_b").is_claimed
        # A pool whose slot is taken is left alone, however long its queue waits.
        assert not storage.claim_concurrency_slot(LEDGER, "run-c", "check_c").is_claimed
        seen = {f"{LEDGER}|run-c|check_c"}
        assert give_stranded_slots(instance, (LEDGER,), seen) == ([], set())
        assert not storage.claim_concurrency_slot(LEDGER, "run-c", "check_c").is_claimed


def test_a_slot_dagster_gives_to_a_new_claim_meanwhile_is_not_given_twice() -> None:
    """Review of the first version: it read the pool, then called Dagster's assign_pending_steps;
    a new claim between the two was given the free slot by Dagster, and the sensor then assigned
    the stranded step too: two steps assigned to a pool of one (and on SQLite both can claim the
    one slot). The assignment's own condition now says a slot must still be free."""
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(LEDGER, 1)
        _strand(storage, LEDGER, "run-w", "check_w")
        seen = {f"{LEDGER}|run-w|check_w"}
        read = storage.get_concurrency_info

        def read_then_x_claims(pool: str):  # type: ignore[no-untyped-def]
            info = read(pool)
            assert storage.claim_concurrency_slot(
                pool, "run-x", "check_x"
            ).is_claimed  # between read and assign
            return info

        storage.get_concurrency_info = read_then_x_claims  # type: ignore[method-assign]
        try:
            given, _ = give_stranded_slots(instance, (LEDGER,), seen)
        finally:
            del storage.get_concurrency_info
        assert given == []
        assert _assigned(storage, LEDGER) == ["run-x/check_x"]
        for run in ("run-y", "run-z"):  # hand-offs then go one at a time
            assert not storage.claim_concurrency_slot(LEDGER, run, "check").is_claimed
        storage.free_concurrency_slot_for_step("run-x", "check_x")
        assert len(_assigned(storage, LEDGER)) == 1
