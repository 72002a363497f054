"""The SQL reconciliation gives every order the status the domain rules give it, for any ledger.

Each example writes generated orders through the real ledger functions (Shopify money with
refunds; despatched packages settled or not, derived into unit rows; warehouse returns), runs
`reconciliation.reconcile` and compares every order with `lib/domain/reconciliation.status` over
the same figures, then checks that the summary ties out to Shopify's own totals.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.finance.exports import CELL_RULE
from sync_pipeline.lib.ledger import Ledger, finance_exports, finance_orders, reconciliation
from sync_pipeline.lib.ledger.records import utcnow
from sync_pipeline_tests.finance.factories import (
    AS_OF,
    DAY,
    SLA,
    Generated,
    expected_despatched_value,
    expected_figures,
    orders,
    write,
)
from sync_pipeline_tests.kept_open import ledger_kept_open


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    path = Path(tmp_path_factory.mktemp("reconciliation")) / "ledger.duckdb"
    with ledger_kept_open(path):  # in-process only (kept_open.py)
        yield Ledger(path)


TABLES = ("orders", "despatch_packages", "finance_orders", "finance_order_lines", "finance_refunds",
          "finance_refund_lines", "finance_package_units", "pvx_return_units", "sync_cursors")  # fmt: skip


@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=8, unique=True).flatmap(
    lambda numbers: st.tuples(*(orders(n) for n in numbers))))  # fmt: skip
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_sql_agrees_with_the_rules_and_ties_out(ledger: Ledger, generated: tuple[Generated, ...]) -> None:
    with ledger.transaction() as con:
        for table in TABLES:
            con.execute(f"DELETE FROM {table}")
    write(ledger, list(generated))
    end = DAY + timedelta(days=2)
    exports = ledger.path.parent / "exports"
    shutil.rmtree(exports, ignore_errors=True)
    with ExitStack() as keep:
        with ledger.transaction() as con:
            counts = reconciliation.reconcile(con, DAY, end, AS_OF, SLA)
            rows = con.execute(
                "SELECT shopify_order_id, status, units_despatched, units_returned, units_to_despatch, "
                f"despatched_value, units_ordered, units_cancelled, units_returned_unmatched "
                f"FROM {reconciliation.RESULT}"
            ).fetchall()
            totals = finance_orders.shopify_totals(con, DAY, end)
            result = keep.enter_context(finance_exports.kept_result(con, exports))
        finance_exports.export_orders(result, exports, DAY, end, CELL_RULE, utcnow())
    finance_exports.summarise_days(exports, finance_exports.days_between(DAY, end), rules.STATUSES)
    summary = finance_exports.read_daily_summaries(
        exports, finance_exports.days_between(DAY, end), rules.STATUSES
    )
    assert counts.orders == len(generated) == len(rows)
    by_id = {r[0]: r for r in rows}
    for g in generated:
        f = expected_figures(g)
        _, status, despatched, returned, to_despatch, value, ordered, cancelled, elsewhere = by_id[g.gid]
        assert (despatched, returned, to_despatch, elsewhere) == (
            f.units_despatched,
            f.units_returned,
            rules.units_to_despatch(f),
            f.units_returned_unmatched,
        )
        assert status == rules.status(f, AS_OF, SLA), (g, f)
        assert value == expected_despatched_value(g)
        assert ordered == sum(li.quantity for li in g.lines if li.ships)
        assert cancelled == ordered - to_despatch
    # Ties out: per day and currency the statuses hold every order and Shopify's whole revenue,
    # read back from the exported daily_summary.csv files.
    assert len(summary) == len(totals)
    for day, shopify in zip(summary, totals, strict=True):
        assert (day["order_date"], day["currency"]) == (shopify.order_date, shopify.currency)
        assert day["orders"] == shopify.orders == sum(day[f"{s}_orders"] for s in rules.STATUSES)
        assert day["revenue"] == shopify.p_total_price == sum(day[f"{s}_value"] for s in rules.STATUSES)
        assert (
            day["revenue_shop"] == shopify.total_price == sum(day[f"{s}_value_shop"] for s in rules.STATUSES)
        )
        assert day["refunds"] == shopify.p_refunded
