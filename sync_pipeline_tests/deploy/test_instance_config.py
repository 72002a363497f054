"""deploy/dagster.yaml is the embedded dagster.yaml plus Postgres: the same queue, pools, run monitoring
and retries."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED = ("concurrency", "run_monitoring", "run_retries", "sensors", "schedules", "retention", "telemetry")


def _load(path: str) -> dict:
    return yaml.safe_load((REPO_ROOT / path).read_text(encoding="utf-8"))


def test_deployed_instance_keeps_the_embedded_run_queue_pools_and_retries() -> None:
    embedded, deployed = _load("dagster.yaml"), _load("deploy/dagster.yaml")
    for section in SHARED:
        assert deployed.get(section) == embedded.get(section), f"{section} differs from dagster.yaml"
    assert set(embedded) <= set(SHARED), "a new section in dagster.yaml: add it to deploy/dagster.yaml too"


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
