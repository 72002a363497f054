"""The orders checks against a real ledger file: they pass on a healthy ledger and fail on trouble."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from sync_pipeline.defs.orders.checks import (
    cancelled_orders_not_active_in_warehouse,
    paid_orders_reach_warehouse,
)
from sync_pipeline.defs.resources import BusinessRulesResource, LedgerResource
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import OrderRow

REPO_ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC).replace(tzinfo=None)


def _order(
    n: int, order_state: str, paid_minutes_ago: float, cancelled: bool = False, pvx: str | None = None
) -> OrderRow:
    return OrderRow(
        shopify_order_id=f"gid://shopify/Order/{n}", legacy_id=n, order_name=f"#{n}", order_date=NOW.date(),
        state=order_state, financial_status="PAID", fulfillment_status=None,
        cancelled_at=NOW if cancelled else None, shopify_created_at=NOW, shopify_updated_at=NOW,
        paid_seen_at=NOW - timedelta(minutes=paid_minutes_ago), release_due_at=None,
        sales_order_number=f"SHP-{n}", site=None, channel=None, total_price=None, currency="GBP",
        pvx_status=pvx, pvx_status_at=None, change_pending=False, snapshot=None,
    )  # fmt: skip


@dg.asset(key=["peoplevox", "sales_orders"])
def sales_orders_placeholder() -> None:
    """Stands in for the real asset so the checks run without the APIs."""


def _run_check(check: dg.AssetChecksDefinition, tmp_path: Path) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [sales_orders_placeholder, check],
        resources={
            "ledger": LedgerResource(data_dir=str(tmp_path)),
            "business_rules": BusinessRulesResource(config_dir=str(REPO_ROOT / "data" / "config")),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation


def test_checks_pass_on_a_healthy_ledger_and_fail_on_trouble(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.transaction() as con:
        ledger_orders.upsert(
            con, [_order(1, state.IN_WAREHOUSE, 120, pvx="New"), _order(2, state.AWAITING_RELEASE, 1)]
        )
        ledger_injections.mark_sending(con, [("SHP-1", "gid://shopify/Order/1", {}, [])], run_id="t")
        ledger_injections.mark(con, "SHP-1", "accepted")
    healthy = [
        _run_check(c, tmp_path)
        for c in (paid_orders_reach_warehouse, cancelled_orders_not_active_in_warehouse)
    ]
    assert [e.passed for e in healthy] == [True, True]

    with ledger.transaction() as con:
        ledger_orders.upsert(
            con,
            [
                _order(1, state.IN_WAREHOUSE, 120, cancelled=True, pvx="Allocated"),  # cancelled, still live
                _order(3, state.AWAITING_RELEASE, 180),  # paid three hours ago, still not sent
                _order(4, state.HELD, 180),  # held with an exception: counted apart
            ],
        )
    stale = _run_check(paid_orders_reach_warehouse, tmp_path)
    assert not stale.passed
    assert stale.metadata["stale_orders"].value == 1
    assert stale.metadata["held_with_exception"].value == 1
    live = _run_check(cancelled_orders_not_active_in_warehouse, tmp_path)
    assert not live.passed and live.severity == dg.AssetCheckSeverity.ERROR
    assert live.metadata["count"].value == 1
