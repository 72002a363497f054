"""A simulated warehouse day over HTTP: every order ends Despatched or Cancelled and stock balances."""

from __future__ import annotations

import random

from sync_pipeline.lib.peoplevox import (
    DespatchSummaryRow,
    ItemInventorySummaryRow,
    PeoplevoxClient,
    SalesOrder,
    SalesOrderItem,
)
from sync_pipeline_tests.peoplevox.conftest import Sandbox

SITES = ("PrimarySite", "Wholesale")
SKUS = [f"DAY-{i}" for i in range(6)]


def test_warehouse_day(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    rng = random.Random(11)
    control = sandbox.control
    control.configure(short_pick_rate=0.3, units_per_package=2)
    control.seed_items([(sku, f"77{i}", sku) for i, sku in enumerate(SKUS)])
    control.set_stock([(sku, site, rng.randint(5, 30)) for sku in SKUS for site in SITES])
    start = {(s.item_code, s.site): s.on_hand for s in control.state().stock}

    orders, lines = [], []
    for n in range(60):
        site = "Wholesale" if n % 5 == 0 else "PrimarySite"
        number = f"DAY{n:04d}"
        orders.append(
            SalesOrder(
                sales_order_number=number,
                site=site,
                channel_name="B2B" if site == "Wholesale" else "Shopify",
                service_type="Pallet" if site == "Wholesale" else rng.choice(["Standard", "Express"]),
                shipping_address_line1=rng.choice(['1 "Quoted" Rd, Flat 2', "=HYPERLINK()", "Straße 5\nHof"]),
            )
        )
        for line_no, sku in enumerate(rng.sample(SKUS, rng.randint(1, 3)), start=1):
            lines.append(
                SalesOrderItem(
                    sales_order_number=number,
                    item_code=sku,
                    quantity_ordered=rng.randint(1, 6),
                    line=str(line_no),
                )
            )
    assert client.save_in_batches("Sales orders", orders, batch_size=25).ok
    assert client.save_in_batches("Sales order items", lines, batch_size=100).ok

    cancelled_early = [o.sales_order_number for o in orders[1::7]]
    assert client.save_data(
        "Sales orders", [{"SalesOrderNumber": n, "Status": "Cancelled"} for n in cancelled_early]
    ).ok

    # Through the day: time passes, stock arrives, returns come back, and late cancels are refused.
    late_refused, late_sent = 0, 0
    for hour in range(48):
        control.advance(1800)
        if hour % 6 == 0:
            for sku in SKUS:
                control.goods_in(sku, rng.choice(SITES), rng.randint(5, 20), f"PO-{hour}-{sku}")
        if hour == 0:
            state = control.state()
            picking = [o.number for o in state.orders if o.status in ("Picking", "Packed")][:3]
            if picking:
                result = client.save_data(
                    "Sales orders", [{"SalesOrderNumber": n, "Status": "Cancelled"} for n in picking]
                )
                late_refused, late_sent = len(result.failed), len(picking)
                assert all("cancelled before Picking" in (r.error or "") for r in result.failed)
        if hour == 30:
            for despatch in control.state().despatches[:3]:
                item = next(iter(despatch.packages[0].items))
                control.process_return(despatch.sales_order_number, item, 1, "Changed mind")
    # Whatever is still waiting on stock gets it, and the floor finishes its work.
    for sku in SKUS:
        for site in SITES:
            control.goods_in(sku, site, 200, "top-up")
    control.advance(2 * 86_400)

    state = control.state()
    assert {o.status for o in state.orders} <= {"Despatched", "Cancelled"}
    assert sum(o.status == "Cancelled" for o in state.orders) == len(cancelled_early)
    assert late_refused == late_sent > 0
    assert any(o.partially_despatched for o in state.orders)
    assert any(len(d.packages) > 1 for d in state.despatches)
    for level in state.stock:
        before = start[(level.item_code, level.site)]
        assert before + level.goods_in + level.returns + level.adjusted - level.despatched == level.on_hand
        assert level.allocated == 0
    for order in state.orders:
        for line in order.lines:
            assert line.despatched == (
                line.quantity_ordered if order.status == "Despatched" else line.despatched
            )

    # The reports tell the same story as the state.
    report = list(client.iter_models(DespatchSummaryRow, items_per_page=100))
    for sku in SKUS:
        for site in SITES:
            shipped = sum(
                r.number_of_items for r in report if r.item_code == sku and r.site_reference == site
            )
            level = state.stock_of(sku, site)
            assert level is not None and shipped == level.despatched
    inventory = {
        (r.item_code, r.site_reference): r.available for r in client.iter_models(ItemInventorySummaryRow)
    }
    assert all(inventory[(s.item_code, s.site)] == s.on_hand for s in state.stock)
    counters = state.counters
    assert counters.save_rows["Sales orders"] == len(orders) + len(cancelled_early) + late_sent
