"""ops/exceptions against a real ledger file: re-check closes what cleared, ranks the rest, exports, checks."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import yaml

from sync_pipeline.defs.ops.assets import P1_METADATA, check_name, ops_exceptions
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.domain.exception_catalogue import CATALOGUE, Owner
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import ops as ledger_ops
from sync_pipeline.lib.ledger.records import ExceptionRecord
from sync_pipeline_tests.ops import world

REPO_ROOT = Path(__file__).resolve().parents[2]


def _materialize(data_dir: Path) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [ops_exceptions],
        resources={
            "ledger": LedgerResource(data_dir=str(data_dir)),
            "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def test_ranked_closed_exported_and_checked(tmp_path: Path) -> None:
    ledger = world.build(tmp_path)
    result = _materialize(tmp_path)
    assert result.success
    [materialization] = result.asset_materializations_for_node("ops__exceptions")
    meta = materialization.metadata

    # Cleared conditions closed, each with why; a person's kind stays open.
    assert meta["closed_on_recheck"].value == 2
    with ledger.transaction() as con:
        still_open = {r.kind for r in ledger_ops.open_with_facts(con)}
        bad_address = con.execute("SELECT resolution FROM exceptions WHERE kind = 'bad_address'").fetchone()[
            0
        ]
    assert still_open == {"unmapped_sku", "injection_failed", "change_after_cutoff"}
    assert bad_address == "cleared on re-check: order is now cancelled before release"
    trail = ledger.events_for(world.order_id(1003))
    assert trail[-1]["kind"] == "exception_resolved" and "bad_address" in trail[-1]["reason"]

    # Ranked: the overdue B2B refusal (£2,400) first, then the fast seller's unmapped SKU.
    rows = list(csv.DictReader((tmp_path / "exports" / "exceptions" / "open_exceptions.csv").open()))
    assert [r["kind"] for r in rows] == ["injection_failed", "unmapped_sku", "change_after_cutoff"]
    assert (
        rows[0]["priority"] == "P1" and rows[0]["b2b"] == "True" and float(rows[0]["hours_to_deadline"]) < 0
    )
    assert float(rows[1]["units_per_day"]) > 10
    # The CSV neutralises a formula from Peoplevox's text (the project's one rule).
    assert rows[0]["message"].startswith("Peoplevox: =HYPERLINK")
    assert all(not r["message"].startswith("=") for r in rows)
    assert meta["dagster/row_count"].value == 3
    assert "Warehouse ops" in meta["by_owner"].value
    assert "`injection_failed`" in meta["top_warehouse_ops"].value
    assert [p["kind"] for p in meta[P1_METADATA].value][:1] == ["injection_failed"]

    # Warehouse ops has a P1 open 10 h, over its 4 h threshold: their check fails; CX's passes.
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["warehouse_ops_p1_within_threshold"].passed
    assert checks["cx_p1_within_threshold"].passed

    # A second run closes nothing more and ranks the same.
    again = _materialize(tmp_path).asset_materializations_for_node("ops__exceptions")[0].metadata
    assert again["closed_on_recheck"].value == 0 and again["open"].value == 3


def test_formula_in_a_csv_cell_is_neutralised(tmp_path: Path) -> None:
    from sync_pipeline.lib.domain.config.ops import OpsConfig
    from sync_pipeline.lib.flows.ops.export import to_csv
    from sync_pipeline.lib.flows.ops.run import refresh

    ledger = world.build(tmp_path)
    with ledger.transaction() as con:
        con.execute("UPDATE exceptions SET message = '=cmd|'' /C calc''!A0' WHERE kind = 'unmapped_sku'")
    text = to_csv(refresh(ledger, OpsConfig(), world.NOW, "test", recheck=False).ranked)
    assert "'=cmd|" in text
    assert ",=cmd" not in text


def test_each_owners_check_fails_only_on_their_own_late_p1(tmp_path: Path) -> None:
    """Every owner in the catalogue: their check passes while their P1 is younger than their
    threshold and fails once it is older, without touching the other owners' checks."""
    config_dir = tmp_path / "config"
    shutil.copytree(REPO_ROOT / "data" / "config", config_dir)
    ops_yaml = config_dir / "ops.yaml"
    # Every exception P1, so only age decides; the age thresholds as shipped.
    ops = yaml.safe_load(ops_yaml.read_text()) | {"p1_score": 0.02, "p2_score": 0.01}
    ops_yaml.write_text(yaml.safe_dump(ops))
    limits = load_business_rules(config_dir).ops.p1_age_hours
    ledger = Ledger(tmp_path / "ledger.duckdb")
    kinds = {owner: next(e.kind for e in CATALOGUE.values() if e.owner is owner) for owner in Owner}
    with ledger.transaction() as con:
        ledger_exceptions.open_or_touch(
            con,
            [
                ExceptionRecord(kind, owner.value, f"{owner.value} problem", subject=f"S-{owner.value}")
                for owner, kind in kinds.items()
            ],
        )

    def age(owner: Owner, hours: float) -> None:
        with ledger.transaction() as con:
            con.execute(
                "UPDATE exceptions SET opened_at = ? WHERE subject = ?",
                # Now, not the module's import time: in a long suite run the two are far apart.
                [datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours), f"S-{owner.value}"],
            )

    def checks() -> dict[str, bool]:
        result = dg.materialize(
            [ops_exceptions],
            resources={
                "ledger": LedgerResource(data_dir=str(tmp_path)),
                "business_rules": BusinessRulesResource(config_dir=str(config_dir)),
            },
            instance=dg.DagsterInstance.ephemeral(),
        )
        return {c.check_name: c.passed for c in result.get_asset_check_evaluations()}

    for owner in Owner:
        age(owner, limits[owner.value] - 0.5)
    assert all(checks().values())
    for owner in Owner:
        age(owner, limits[owner.value] + 0.5)
        assert {name for name, passed in checks().items() if not passed} == {check_name(owner)}
        age(owner, limits[owner.value] - 0.5)
