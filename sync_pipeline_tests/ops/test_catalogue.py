"""The exception catalogue is the one list: the runbook matches it, and nothing records a kind outside it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sync_pipeline.lib.domain import runbook
from sync_pipeline.lib.domain.exception_catalogue import (
    CATALOGUE,
    Clears,
    Owner,
    UnknownExceptionKindError,
    current_owner,
)
from sync_pipeline.lib.domain.exceptions import DEFAULT_OWNER
from sync_pipeline.lib.flows.despatches import states as despatch_states
from sync_pipeline.lib.ledger.records import ExceptionRecord
from sync_pipeline.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "sync_pipeline"
RUNBOOK = REPO_ROOT / "docs" / "runbook.md"


def test_runbook_block_is_what_the_catalogue_renders() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    assert runbook.generated_block(text) == runbook.render_catalogue(), (
        "docs/runbook.md disagrees with lib/domain/exception_catalogue.py: run `sync-pipeline runbook --write`"
    )
    for kind in CATALOGUE:
        assert f"| `{kind}` |" in text


def test_runbook_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    from sync_pipeline.ops_cli.runbook import main

    stale = tmp_path / "runbook.md"
    stale.write_text(
        RUNBOOK.read_text(encoding="utf-8").replace("| `tracking_missing` |", "| `tracking_lost` |")
    )
    assert main(["--path", str(stale)]) == 1
    assert main(["--path", str(stale), "--write"]) == 0
    assert main(["--path", str(stale)]) == 0
    assert "| `tracking_missing` |" in stale.read_text()


def test_hand_written_sections_are_there() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    for heading in (
        "## How to read the alerts",
        "## How to backfill",
        "## How to re-send one order",
        "## How to accept a suspect stock feed",
    ):
        assert heading in text


def test_stock_section_is_written_once_the_stock_flow_registers_its_kind() -> None:
    placeholder = "STOCK-FEED-PLACEHOLDER" in RUNBOOK.read_text(encoding="utf-8")
    if "stock_feed_suspect" in CATALOGUE:
        assert not placeholder, (
            "the stock flow has landed: write 'How to accept a suspect stock feed' from docs/stock_flow.md"
        )
    else:
        assert placeholder


def test_an_unregistered_kind_cannot_be_recorded() -> None:
    with pytest.raises(UnknownExceptionKindError, match="not in the catalogue"):
        ExceptionRecord(kind="stock_gremlins", owner="warehouse_ops", message="?")
    with pytest.raises(UnknownExceptionKindError, match="owned by 'cx'"):
        ExceptionRecord(kind="bad_address", owner="finance", message="?")
    assert ExceptionRecord(kind="bad_address", owner="cx", message="ok").kind == "bad_address"


def test_owners_come_from_the_catalogue() -> None:
    assert all(DEFAULT_OWNER[k] is CATALOGUE[k.value].owner for k in DEFAULT_OWNER)
    assert all(despatch_states.OWNERS[k] == CATALOGUE[k].owner.value for k in despatch_states.OWNERS)
    # Rows stored before "engineering" was renamed are read as integration's.
    assert current_owner("no_longer_listed", "engineering") == Owner.INTEGRATION.value
    assert current_owner("unknown_carrier", "engineering") == Owner.INTEGRATION.value


def test_every_entry_says_how_it_clears() -> None:
    for entry in CATALOGUE.values():
        assert entry.meaning and entry.action and entry.how_it_clears
        if entry.clears is Clears.BY_A_PERSON:
            assert "note" in entry.how_it_clears, entry.kind


def _kinds_in_source() -> set[str]:
    """Every string literal given as `kind=` to ExceptionRecord, or keying an OWNERS/KINDS table."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in {
                "ExceptionRecord",
                "_exception",
                "package_exception",
            }:
                args = [kw.value for kw in node.keywords if kw.arg == "kind"] + node.args[:1]
                found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("KINDS") for t in node.targets
            ):
                found |= {
                    c.value
                    for c in ast.walk(node.value)
                    if isinstance(c, ast.Constant) and isinstance(c.value, str)
                }
    return found


def test_every_kind_the_code_records_is_catalogued() -> None:
    found = _kinds_in_source()
    assert {"unmapped_sku", "injection_failed", "change_failed", "shipped_after_cancel"} <= found
    assert found - set(CATALOGUE) == set()
