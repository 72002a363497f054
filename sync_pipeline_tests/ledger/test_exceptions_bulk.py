"""Exceptions opened and closed in bulk count exactly as one at a time would.

`open_or_touch` and `resolve_each_order` write a whole batch in one or two statements (release and
status runs hold the `peoplevox_orders` pool while they write). Their answer must be the one-by-one
rules': at most one open exception a problem, opened once with its first owner, seen as often as
it was reported, the last message kept; each order closed with its own resolution and its own
problems kept open. A model of those rules, applied one record at a time, is the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.ledger import ExceptionRecord, Ledger
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline_tests.kept_open import ledger_kept_open

KINDS = {"unmapped_sku": "warehouse_ops", "bad_address": "cx", "change_failed": "cx"}
ORDERS = ("gid://shopify/Order/1", "gid://shopify/Order/2", None)

records = st.builds(
    lambda kind, subject, oid, son, text, detail: ExceptionRecord(
        kind, KINDS[kind], f"{kind} {subject} #{text}", oid, son, subject, detail
    ),
    st.sampled_from(sorted(KINDS)),
    st.sampled_from(("", "TEE-XL", "TEE-XXL")),
    st.sampled_from(ORDERS),
    st.sampled_from((None, "SHP-1")),
    st.integers(0, 3),
    st.sampled_from((None, {"n": 1})),
)
closures = st.lists(
    st.tuples(
        st.sampled_from(ORDERS[:2]),
        st.lists(st.tuples(st.sampled_from(sorted(KINDS)), st.sampled_from(("", "TEE-XL"))), max_size=2),
    ),
    max_size=2,
    unique_by=lambda c: c[0],
)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("exceptions") / "ledger.duckdb"
    with ledger_kept_open(path):
        yield Ledger(path)


def _open(ledger: Ledger) -> dict[tuple, tuple]:
    with ledger.transaction() as con:
        rows = con.execute(
            "SELECT kind, subject, shopify_order_id, sales_order_number, owner, message, detail::VARCHAR, "
            "occurrences FROM exceptions WHERE status = 'open' ORDER BY exception_id"
        ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.tuples(st.lists(records, max_size=6), closures), min_size=1, max_size=3))
def test_bulk_writes_count_as_one_at_a_time(ledger: Ledger, batches: list) -> None:
    with ledger.transaction() as con:
        con.execute("DELETE FROM exceptions")
    model: dict[tuple, list] = {}  # the one-at-a-time rules: key → [owner, message, detail, seen]
    total_closed = 0
    for batch, closing in batches:
        opened = 0
        for r in batch:
            key = (r.kind, r.subject, r.shopify_order_id, r.sales_order_number)
            detail = None if r.detail is None else json.dumps(r.detail)
            if key in model:
                model[key][1:] = [r.message, detail, model[key][3] + 1]
            else:
                model[key] = [r.owner, r.message, detail, 1]
                opened += 1
        closed = 0
        for oid, keep in closing:
            for key in [k for k in model if k[2] == oid and k[0] in ("unmapped_sku", "bad_address")]:
                if (key[0], key[1]) not in keep:
                    del model[key]
                    closed += 1
        with ledger.transaction() as con:
            assert ledger_exceptions.open_or_touch(con, batch) == opened
            assert (
                ledger_exceptions.resolve_each_order(
                    con,
                    [(oid, f"fixed {oid}") for oid, _ in closing],
                    ("unmapped_sku", "bad_address"),
                    keep={oid: keep for oid, keep in closing},
                )
                == closed
            )
        assert _open(ledger) == {k: tuple(v) for k, v in model.items()}
        total_closed += closed
    with ledger.transaction() as con:
        resolved = con.execute(
            "SELECT shopify_order_id, resolution FROM exceptions WHERE status = 'resolved'"
        ).fetchall()
    assert len(resolved) == total_closed  # each closed once, with its own order's resolution
    assert all(resolution == f"fixed {oid}" for oid, resolution in resolved)


def test_an_order_named_twice_is_refused(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.transaction() as con, pytest.raises(ValueError, match="twice"):
        ledger_exceptions.resolve_each_order(con, [("o1", "a"), ("o1", "b")], ("unmapped_sku",))
