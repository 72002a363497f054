"""deploy/dagster.yaml is the embedded dagster.yaml plus Postgres: the same queue, pools, run monitoring
and retries."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = (
    "concurrency",
    "run_queue",
    "run_monitoring",
    "run_retries",
    "sensors",
    "schedules",
    "retention",
    "telemetry",
)
# Sections the two set differently, each for a reason its test gives.
DIFFERS = ("run_launcher", "compute_logs")


def _load(path: str) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8"))


def test_deployed_instance_keeps_the_embedded_run_queue_pools_and_retries() -> None:
    embedded, deployed = _load("dagster.yaml"), _load("deploy/dagster.yaml")
    for section in SHARED:
        assert deployed.get(section) == embedded.get(section), f"{section} differs from dagster.yaml"
    assert set(embedded) <= {*SHARED, *DIFFERS}, (
        "a new section in dagster.yaml: add it to deploy/dagster.yaml too"
    )


def test_the_run_launchers_differ_on_purpose() -> None:
    """Embedded, runs fork warm beside the daemon; deployed, each brand's code server starts them
    in that brand's container (its environment, its ledger volume)."""
    embedded, deployed = _load("dagster.yaml"), _load("deploy/dagster.yaml")
    assert embedded["run_launcher"]["class"] == "WarmRunLauncher"
    assert embedded["run_launcher"].get("config", {}).get("warm", True) is True
    assert deployed["run_launcher"]["class"] == "DefaultRunLauncher"


def test_run_output_is_mirrored_to_the_process_only_when_deployed() -> None:
    """Embedded, a run's output goes to the UI's files only (the mirror cost two processes a
    stream a run); deployed, Dagster's manager also mirrors it to the container's log."""
    embedded, deployed = _load("dagster.yaml"), _load("deploy/dagster.yaml")
    assert embedded["compute_logs"]["class"] == "FileComputeLogManager"
    assert "compute_logs" not in deployed  # Dagster's default: LocalComputeLogManager


def test_deployed_storage_is_postgres_from_the_environment_only() -> None:
    db = _load("deploy/dagster.yaml")["storage"]["postgres"]["postgres_db"]
    for field in ("hostname", "port", "username", "password", "db_name"):
        assert set(db[field]) == {"env"} and db[field]["env"].startswith("DAGSTER_POSTGRES_"), field


def test_release_and_status_keep_a_run_slot_the_other_jobs_cannot_take() -> None:
    limits = {
        limit["key"]: limit
        for limit in _load("dagster.yaml")["concurrency"]["runs"]["tag_concurrency_limits"]
    }
    per_brand, shared = limits["dagster/code_location"], limits["sync/run_slots"]
    assert shared["value"] == per_brand["value"] == {"applyLimitPerUniqueValue": True}  # per brand
    assert 1 <= shared["limit"] < per_brand["limit"]


def test_every_flows_runs_in_flight_fit_the_run_slots_at_once() -> None:
    """The pools queue a brand's work, not the run slots: a run waiting for a slot cannot even start
    up, so a flow whose pool was free waited behind runs waiting for another pool (session 7's
    rehearsal: 30-60 s a run, the Peoplevox pool idle meanwhile). The sensors cap each flow's runs
    in flight; those caps, plus two scheduled jobs, fit the shared slots, and the release runs (one
    releasing, the next starting up) and a status run fit the slots kept for them."""
    from sync_pipeline.defs.despatches.sensors import DESPATCH_RUNS_IN_FLIGHT
    from sync_pipeline.defs.inventory.sensors import STOCK_RUNS_IN_FLIGHT

    limits = {
        limit["key"]: limit["limit"]
        for limit in _load("dagster.yaml")["concurrency"]["runs"]["tag_concurrency_limits"]
    }
    ingest, scheduled = 1, 2  # inbox_sensor_tick's default max_in_flight; ops, checks
    assert limits["sync/run_slots"] >= ingest + DESPATCH_RUNS_IN_FLIGHT + STOCK_RUNS_IN_FLIGHT + scheduled
    from sync_pipeline.defs.orders.triggers import RELEASE_RUNS_IN_FLIGHT

    status = 1  # its sensor skips while one is in flight
    release = RELEASE_RUNS_IN_FLIGHT
    assert limits["dagster/code_location"] - limits["sync/run_slots"] >= release + status


def test_the_run_queue_launches_on_threads_and_reads_the_queue_every_second() -> None:
    """A launch waits for the run's process to spawn (5-13 s on a busy host): one after another,
    runs freed together started seconds apart; Dagster's default pass every 5 s added 2.5 s a run."""
    import dagster as dg

    with dg.instance_for_test(overrides=_load("dagster.yaml")) as instance:
        coordinator = instance.run_coordinator
        assert coordinator.dequeue_use_threads and (coordinator.dequeue_num_workers or 0) >= 4
        assert coordinator.dequeue_interval_seconds <= 1
        # the run slots still come from `concurrency.runs` (run_queue must not shadow them)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue is not None and {limit["key"] for limit in queue.tag_concurrency_limits} == {
            "dagster/code_location",
            "dagster/backfill",
            "sync/run_slots",
        }
