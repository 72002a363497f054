"""The despatches checks on a real ledger built by the flow: pass when healthy, fail on trouble."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.definitions import defs
from sync_pipeline.defs.despatches.checks import (
    despatches_reach_shopify,
    fulfilled_quantities_match_despatched,
    tracking_posted,
)
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, despatch_rules, into_warehouse, run_once
from sync_pipeline_tests.orders.conftest import REPO_ROOT, Stack

CHECKS = (despatches_reach_shopify, fulfilled_quantities_match_despatched, tracking_posted)


@dg.asset(key=["shopify", "fulfilments"])
def fulfilments_placeholder() -> None:
    """Stands in for the real asset so the checks run without the APIs."""


def _run(check: dg.AssetChecksDefinition, data_dir: Path) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [fulfilments_placeholder, check],
        resources={
            "ledger": LedgerResource(data_dir=str(data_dir)),
            "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_checks_pass_when_healthy_and_fail_on_trouble(stack: Stack) -> None:
    order = stack.shop.place_order(
        OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK)
    )
    late = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="MUG-LOGO")], shipping_address=UK))
    numbers = into_warehouse(stack)
    stack.pvx.despatch(numbers[order["id"]], [{"CAP-NVY": 1}, {"CAP-NVY": 1}])
    run_once(stack)
    assert [_run(c, stack.data_dir).passed for c in CHECKS] == [True, True, True]

    # A package read an hour ago that nothing fulfilled and no exception explains.
    stack.pvx.despatch(numbers[late["id"]], [{"MUG-LOGO": 1}], late_tracking=[True])
    run_once(stack)
    with stack.ledger.transaction() as con:
        con.execute("UPDATE despatch_packages SET first_seen_at = first_seen_at - INTERVAL 2 HOUR, state = 'pending' "
                    "WHERE shopify_order_id = ?", [late["id"]])  # fmt: skip
    stuck = _run(despatches_reach_shopify, stack.data_dir)
    assert not stuck.passed and stuck.severity == dg.AssetCheckSeverity.ERROR
    assert stuck.metadata["unexplained"].value == 1

    # Fulfilled without tracking (waited out, fulfilled anyway): a warning until the number comes.
    no_wait = despatch_rules(stack, tracking_wait_minutes=0)
    run_once(stack, rules=no_wait)
    assert _run(despatches_reach_shopify, stack.data_dir).passed
    untracked = _run(tracking_posted, stack.data_dir)
    assert not untracked.passed and untracked.severity == dg.AssetCheckSeverity.WARN
    assert untracked.metadata["without_tracking"].value == 1

    # A fulfilment recorded with more units than the warehouse shipped for the line.
    with stack.ledger.transaction() as con:
        package, lines = con.execute(
            "SELECT package_number, line_quantities FROM shopify_fulfilments WHERE shopify_order_id = ? LIMIT 1",
            [order["id"]],
        ).fetchone()
        bumped = {line: quantity + 1 for line, quantity in json.loads(lines).items()}
        con.execute("UPDATE shopify_fulfilments SET line_quantities = ? WHERE package_number = ?",
                    [json.dumps(bumped), package])  # fmt: skip
    over = _run(fulfilled_quantities_match_despatched, stack.data_dir)
    assert not over.passed and over.metadata["lines_over"].value == 1


def test_checks_run_on_their_schedule_not_in_every_despatches_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SYNC_CONFIG_DIR", str(REPO_ROOT / "data" / "config"))
    definitions = defs()
    despatches = definitions.resolve_job_def("despatches_job")
    assert not [
        n
        for n in despatches.graph.node_dict
        if n.endswith(tuple(next(iter(c.check_keys)).name for c in CHECKS))
    ]
    schedule = definitions.resolve_schedule_def("despatches_checks")
    assert schedule.cron_schedule == "*/10 * * * *"
    result = definitions.resolve_job_def(schedule.job_name).execute_in_process(
        instance=dg.DagsterInstance.ephemeral()
    )
    assert sorted(e.check_name for e in result.get_asset_check_evaluations()) == sorted(
        next(iter(c.check_keys)).name for c in CHECKS
    )
