"""The sensor plumbing every flow shares (`defs/inbox_sensors.py`), against a real test instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

# Dagster's own test helper: records a run in the instance without executing it.
from dagster._core.test_utils import create_run_for_test

from sync_pipeline.defs.inbox_sensors import inbox_sensor_tick
from sync_pipeline.lib.inbox import Inbox

JOB, POOL = "despatches_job", "shopify_fulfil"


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    return Inbox(tmp_path / "inbox")


def _tick(instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    context = dg.build_sensor_context(instance=instance)
    return inbox_sensor_tick(context, "peoplevox", JOB, None, partition=False, max_in_flight=2)


def _requests(result: dg.SensorResult | dg.SkipReason) -> int:
    return len(result.run_requests or []) if isinstance(result, dg.SensorResult) else 0


def test_no_second_run_starts_up_while_the_first_waits_for_a_pool(inbox: Inbox) -> None:
    """Two runs of a job may be in flight so that one starts up while the other works; a run that
    is queued, or whose step waits for a pool slot, is not working: a second would only take one
    of the brand's run slots from release and status (the 1,500-a-minute rehearsal: two despatch
    runs and a catalogue run sat waiting for `shopify_api`, then one pool for every Shopify step,
    while a release run queued)."""
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        inbox.write("peoplevox", {"event": "TrackingNumberReceived", "params": {}}, dedupe_key="cb-1")

        starting = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTING)
        assert _requests(_tick(instance)) == 0  # starting up: not working yet
        instance.report_run_failed(starting)

        first = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTED)
        other = create_run_for_test(
            instance, job_name="orders_ingest_job", status=dg.DagsterRunStatus.STARTED
        )
        assert storage.claim_concurrency_slot(POOL, other.run_id, "read").is_claimed
        assert not storage.claim_concurrency_slot(POOL, first.run_id, "fulfil").is_claimed
        waiting = _tick(instance)
        assert _requests(waiting) == 0 and "waiting for a pool" in str(getattr(waiting, "skip_message", ""))

        storage.free_concurrency_slots_for_run(other.run_id)  # the slot passes to the waiting step
        assert storage.check_concurrency_claim(POOL, first.run_id, "fulfil").is_assigned
        assert storage.claim_concurrency_slot(POOL, first.run_id, "fulfil").is_claimed
        assert _requests(_tick(instance)) == 1  # working: the next run may start up behind it


def _despatch_tick(instance: dg.DagsterInstance) -> dg.SensorResult | dg.SkipReason:
    from sync_pipeline.defs.despatches.sensors import DESPATCH_RUNS_IN_FLIGHT, DESPATCH_RUNS_WAITING

    context = dg.build_sensor_context(instance=instance)
    return inbox_sensor_tick(
        context, "peoplevox", JOB, None, partition=False,
        max_in_flight=DESPATCH_RUNS_IN_FLIGHT, waiting_allowed=DESPATCH_RUNS_WAITING,
    )  # fmt: skip


def test_the_despatch_run_after_next_starts_up_while_one_fulfils_and_one_waits(inbox: Inbox) -> None:
    """Despatches hand `shopify_fulfil` from run to run: while one run fulfils and the next waits for
    the pool (its read done), the one after starts up and reads, so the pool passes to a run that is
    ready (session 11's benchmark: with two in flight the pool stood idle 108 s of a 354 s peak while
    the third run was created, started and read). Never a fourth, and never while two wait or one is
    still starting."""
    with dg.instance_for_test() as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        inbox.write("peoplevox", {"event": "TrackingNumberReceived", "params": {}}, dedupe_key="cb-1")

        fulfilling = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTED)
        waiting = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTED)
        assert storage.claim_concurrency_slot(POOL, fulfilling.run_id, "fulfil").is_claimed
        assert not storage.claim_concurrency_slot(POOL, waiting.run_id, "fulfil").is_claimed
        assert _requests(_tick(instance)) == 0  # the shared default: not while one waits
        assert _requests(_despatch_tick(instance)) == 1  # despatches: the run after next starts up

        starting = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTING)
        skipped = _despatch_tick(instance)
        assert _requests(skipped) == 0 and "already queued or running" in str(skipped.skip_message)
        instance.report_run_failed(starting)

    with (
        dg.instance_for_test() as instance
    ):  # two wait (another job holds the slot): a third would only wait too
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        other = create_run_for_test(
            instance, job_name="orders_ingest_job", status=dg.DagsterRunStatus.STARTED
        )
        assert storage.claim_concurrency_slot(POOL, other.run_id, "read").is_claimed
        for _ in range(2):
            run = create_run_for_test(instance, job_name=JOB, status=dg.DagsterRunStatus.STARTED)
            assert not storage.claim_concurrency_slot(POOL, run.run_id, "fulfil").is_claimed
        both_wait = _despatch_tick(instance)
        assert _requests(both_wait) == 0 and "waiting for a pool" in str(both_wait.skip_message)
