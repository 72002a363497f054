"""The code location loads, and the ledger asset materializes against a real DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from pydantic import ValidationError

from sync_pipeline.definitions import defs
from sync_pipeline.defs.ledger.assets import ledger_schema
from sync_pipeline.defs.resources import LedgerResource, resources
from sync_pipeline.lib.ledger import Ledger

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_definitions_load_in_process() -> None:
    loaded = defs()
    dg.Definitions.validate_loadable(loaded)
    keys = {k.to_user_string() for k in loaded.resolve_asset_graph().get_all_asset_keys()}
    assert "ledger/schema" in keys


def test_every_asset_has_group_owner_kind_and_description() -> None:
    graph = defs().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        if not node.is_materializable:
            continue
        assert node.group_name and node.group_name != "default", f"{name} has no group"
        assert node.owners, f"{name} has no owner"
        assert any(t.startswith("dagster/kind/") for t in node.tags), f"{name} has no kind"
        assert node.description and len(node.description) > 40, f"{name} needs a description for the UI"


def test_dg_check_defs_passes_from_the_repo_root() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_HOME")}
    dg_bin = Path(sys.executable).parent / "dg"
    result = subprocess.run(
        [str(dg_bin), "check", "defs"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_ledger_schema_materializes_against_a_real_file(tmp_path: Path) -> None:
    result = dg.materialize(
        [ledger_schema],
        resources={"ledger": LedgerResource(data_dir=str(tmp_path))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    materialization = result.asset_materializations_for_node("ledger__schema")[0]
    assert (
        materialization.metadata["schema_version"].value
        == Ledger(tmp_path / "ledger.duckdb").schema_version()
    )
    assert (tmp_path / "ledger.duckdb").exists()


def test_resources_take_their_tunables_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPIFY_BULK_THRESHOLD", "0")
    monkeypatch.setenv("PEOPLEVOX_REQUESTS_PER_WINDOW", "60")
    monkeypatch.delenv("SHOPIFY_API_VERSION", raising=False)
    monkeypatch.delenv("PEOPLEVOX_WINDOW_SECONDS", raising=False)
    built = resources().resources
    assert (built["shopify"].bulk_threshold, built["shopify"].api_version) == (0, "2026-10")
    assert (built["peoplevox"].requests_per_window, built["peoplevox"].window_seconds) == (60, 15.0)
    monkeypatch.setenv("SHOPIFY_BULK_THRESHOLD", "lots")
    with pytest.raises(ValidationError, match="bulk_threshold"):
        resources()
