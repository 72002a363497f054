"""Property: whatever moves money or goods, the reconciliation agrees with both systems and ties out.

Each example places orders of every payment kind (paid, authorised, pending, paid in euros with a
discount) in a fresh Shopify and Peoplevox, sends the paid ones to the warehouse with the orders
flow, then interleaves the events that move money or goods: payments and captures (part and
final), order edits (a unit less, a line more), refunds before and after despatch (CANCEL,
RETURN, NO_RESTOCK) and goodwill refunds of an amount in the customer's currency, despatches
(whole and short), the despatches flow fulfilling them, returns the warehouse processes (one unit
reusable or not, a parcel of two units graded apart under one return code, or an item keyed into
the sales order by hand that the Shopify order never had), Shopify returns
processed with or without their refund, and cancellations. After every step the finance flow runs
(Shopify money, Peoplevox returns, reconciliation, exports) and the exported files are checked
against an oracle built from the two sandboxes' own state, not the ledger (`world.py`): every
figure as Shopify states it in both currencies, every unit as Peoplevox counts it, each status as
the domain rules give it from those, and every day's summary tying out to Shopify to the penny.
"""

from __future__ import annotations

import itertools
import os
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec, ShippingLineSpec
from sync_pipeline_tests.despatches.helpers import UK
from sync_pipeline_tests.finance.world import world

ORDERS: list[dict[str, Any]] = [
    {"lines": [LineSpec(sku="TEE-BLK-M", quantity=2), LineSpec(sku="CAP-BLK-OS")],
     "shipping_line": ShippingLineSpec(price="3.95")},
    {"lines": [LineSpec(sku="SOCK-BLK-OS", quantity=2)], "financial_status": "AUTHORIZED"},
    {"lines": [LineSpec(sku="TEE-WHT-M", quantity=3)], "presentment_currency": "EUR", "exchange_rate": "1.17",
     "discount_rate": "0.10"},
    {"lines": [LineSpec(sku="CAP-BLK-OS", quantity=2)], "financial_status": "PENDING"},
]  # fmt: skip


order_index = st.integers(0, len(ORDERS) - 1)
step = st.one_of(
    st.tuples(st.just("pay"), order_index, st.booleans()),
    st.tuples(st.just("release")),
    st.tuples(st.just("edit"), order_index, st.booleans()),
    st.tuples(st.just("despatch"), order_index, st.booleans()),
    st.tuples(st.just("fulfil")),
    st.tuples(st.just("refund"), order_index, st.sampled_from(["CANCEL", "RETURN", "NO_RESTOCK"])),
    st.tuples(st.just("warehouse_return"), order_index, st.booleans()),
    st.tuples(st.just("warehouse_parcel"), order_index, st.booleans()),
    st.tuples(st.just("goodwill"), order_index),
    st.tuples(st.just("warehouse_stray"), order_index),
    st.tuples(st.just("shopify_return"), order_index, st.booleans()),
    st.tuples(st.just("cancel"), order_index),
)
# Every example ships something, edits an order the warehouse already has (a unit less) and has
# money come back, so the interesting paths always run.
opening = [("release",), ("edit", 2, False), ("despatch", 0, False), ("fulfil",)]
steps_strategy = st.lists(step, min_size=4, max_size=9).map(lambda s: [*opening, *s])
_examples = itertools.count()


# make test: the pinned example and two generated ones (~1 min); FINANCE_PROPERTY_EXAMPLES raises
# the generated count for a soak (with HYPOTHESIS_PROFILE=dev, fresh ones each run).
EXAMPLES = int(os.environ.get("FINANCE_PROPERTY_EXAMPLES", "2"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Found by exploration: order 2 edited down to 2 units after the warehouse had it, then 3 despatched.
# Then a parcel of two units graded apart, and a goodwill refund in euros, so every run has both.
@example(
    steps=[*opening, ("despatch", 2, False), ("pay", 0, False), ("release",), ("release",), ("pay", 0, False),
           ("pay", 0, False), ("fulfil",), ("release",), ("edit", 0, False), ("warehouse_parcel", 0, True),
           ("goodwill", 2)],
    later=timedelta(0),
)  # fmt: skip
@given(steps_strategy, st.sampled_from([timedelta(0), timedelta(days=3)]))
def test_reconciliation_agrees_with_both_systems_after_every_step(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple], later: timedelta
) -> None:
    # Fresh systems per example: the reconciliation must account for every order Shopify has.
    with world(tmp_path_factory.mktemp(f"finance{next(_examples)}"), later) as w:
        w.ids = [w.shop.place_order(OrderSpec(shipping_address=UK, **spec))["id"] for spec in ORDERS]
        for s in steps:
            getattr(w, s[0])(*s[1:])
            w.reconcile_and_check()
