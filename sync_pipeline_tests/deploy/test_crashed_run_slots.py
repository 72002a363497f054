"""A run whose worker died mid-step gives its pool slot back.

Dagster fails such a run (its code server sees the worker gone) but frees the slots its step held
only from the monitoring daemon, with `free_slots_after_run_end_seconds` set. This test runs that
daemon iteration against an instance with the run monitoring settings of our dagster.yaml (the end
delay shortened so the test need not wait 15 s) and shows the next run's step gets the slot."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import yaml
from dagster._core.test_utils import create_run_for_test
from dagster._daemon.monitoring.concurrency import execute_concurrency_slots_iteration

REPO_ROOT = Path(__file__).resolve().parents[2]
POOL = "acme/shopify_fulfil"


def _run_monitoring() -> dict:
    return yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text(encoding="utf-8"))["run_monitoring"]


def test_the_instance_frees_a_crashed_runs_pool_slots_soon_after_it_ended() -> None:
    monitoring = _run_monitoring()
    assert monitoring["enabled"] is True
    # Slots come back within a minute of a crash (end delay plus one monitoring poll).
    assert monitoring["free_slots_after_run_end_seconds"] + monitoring["poll_interval_seconds"] <= 60


def test_a_crashed_runs_shopify_slot_goes_to_the_next_run() -> None:
    settings = {**_run_monitoring(), "free_slots_after_run_end_seconds": 1}
    with dg.instance_for_test(overrides={"run_monitoring": settings}) as instance:
        storage = instance.event_log_storage
        storage.set_concurrency_slots(POOL, 1)
        crashed = create_run_for_test(instance, job_name="despatches_job", status=dg.DagsterRunStatus.STARTED)
        assert storage.claim_concurrency_slot(POOL, crashed.run_id, "shopify__fulfilments").is_claimed
        # The worker is SIGKILLed mid-step: nothing frees the slot; its code server fails the run.
        instance.report_run_failed(crashed)
        following = create_run_for_test(
            instance, job_name="stock_push_job", status=dg.DagsterRunStatus.STARTED
        )
        assert not storage.claim_concurrency_slot(
            POOL, following.run_id, "shopify__inventory_levels"
        ).is_claimed

        time.sleep(1.2)
        daemon = SimpleNamespace(instance=instance)
        list(execute_concurrency_slots_iteration(daemon, logging.getLogger("monitoring")))  # type: ignore[arg-type]

        assert storage.claim_concurrency_slot(POOL, following.run_id, "shopify__inventory_levels").is_claimed
