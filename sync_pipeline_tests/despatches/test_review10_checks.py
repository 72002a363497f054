"""A reviewer's attacks on the despatches flow (session 10): what the checks do not see. Real
Dagster checks over a real ledger file built by the flow against both sandboxes."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.defs.despatches.checks import (
    despatches_reach_shopify,
    fulfilled_quantities_match_despatched,
)
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import (
    UK,
    add_bundle_catalogue,
    emails_for,
    into_warehouse,
    run_once,
)
from sync_pipeline_tests.despatches.test_checks import _run
from sync_pipeline_tests.orders.conftest import Stack


def test_a_bundle_part_no_fulfilment_carries_is_a_package_not_in_shopify(stack: Stack) -> None:
    """The warehouse short-picks a bundle's socks and ships the two tees: the package completes no
    Shopify line, so it is `pooled`, waiting for a package that completes the bundle, which a short
    pick never sends. The parcel is on its way and the customer has no shipping email; `pooled`
    counted as settled, so `despatches_reach_shopify` passed and nobody heard of it."""
    add_bundle_catalogue(stack)
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="BUNDLE-STARTER")], shipping_address=UK))["id"]
    package = stack.pvx.despatch(into_warehouse(stack)[oid], [{"TEE-BLK-M": 1, "TEE-WHT-M": 1}])["packages"][
        0
    ]["number"]
    _, done = run_once(stack)
    assert done.pooled == 1 and emails_for(stack, oid) == [], done.summary
    assert _run(despatches_reach_shopify, stack.data_dir).passed  # just read: not late yet
    with stack.ledger.transaction() as con:
        con.execute("UPDATE despatch_packages SET first_seen_at = first_seen_at - INTERVAL 2 HOUR "
                    "WHERE package_number = ?", [package])  # fmt: skip
    late = _run(despatches_reach_shopify, stack.data_dir)
    assert not late.passed and late.metadata["unexplained"].value == 1


def test_a_returned_and_refunded_unit_is_not_an_over_fulfilment(stack: Stack) -> None:
    """Both caps shipped and fulfilled; the customer returns one and is refunded (RETURN). Shopify's
    line: 2 ordered, 2 fulfilled, 1 refunded. The check read the current quantity (1) as what was
    ordered and called 2 fulfilled units an over-fulfilment: an ERROR on every return (until
    2026-12-01; the check now reads the line's ordered `quantity`). The second cap coming back too
    (current quantity 0: the line is no longer one to ship) is no finding either."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 2}])
    run_once(stack)
    assert _run(fulfilled_quantities_match_despatched, stack.data_dir).passed
    line = stack.shop.get_order(oid)["line_items"][0]["id"]
    stack.source.client.create_refund(oid, {line: (1, "RETURN")}, idempotency_key="returned-cap")
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert _run(fulfilled_quantities_match_despatched, stack.data_dir).passed
    stack.source.client.create_refund(oid, {line: (1, "RETURN")}, idempotency_key="returned-cap-2")
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    assert _run(fulfilled_quantities_match_despatched, stack.data_dir).passed
