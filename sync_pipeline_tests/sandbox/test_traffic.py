"""The traffic generator: the order mix is what the demo promises, and it lands in the sandboxes."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.shopify import ShopifyClient
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import SandboxControl
from sync_pipeline.sandbox.traffic import (
    HOSTILE_LINES,
    KINDS,
    Catalogue,
    make_order,
    order_mix,
    plan_catalogue,
    run_traffic,
    seed_catalogue,
)
from sync_pipeline.sandbox.traffic_money import Warehouse
from sync_pipeline.settings import REPO_ROOT

RULES = load_business_rules(REPO_ROOT / "data" / "config")


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return plan_catalogue(300, random.Random(11)).catalogue


def test_catalogue_honours_the_rules_files(catalogue: Catalogue) -> None:
    assert len(catalogue.shopify_skus) >= 300
    mapped = set(catalogue.item_codes)
    for bundle, spec in RULES.bundles.bundles.items():
        assert bundle in catalogue.config_bundles and bundle not in mapped
        for component in spec.components:
            assert component.sku in mapped or component.sku in RULES.bundles.bundles
    for legacy, item_code in RULES.sku_overrides.overrides.items():
        assert legacy in catalogue.override_skus and legacy not in mapped
        assert item_code in mapped
    assert catalogue.unmapped_skus and not set(catalogue.unmapped_skus) & mapped


def test_same_seed_same_orders_different_seed_different_orders(catalogue: Catalogue) -> None:
    first = order_mix(random.Random(5), catalogue, 50)
    assert first == order_mix(random.Random(5), catalogue, 50)
    assert first != order_mix(random.Random(6), catalogue, 50)


def test_mix_produces_every_kind_and_only_catalogue_skus(catalogue: Catalogue) -> None:
    orders = order_mix(random.Random(3), catalogue, 1000)
    assert {o.kind for o in orders} == set(KINDS)
    for spec in orders:
        for line in spec.order.lines:
            assert line.sku in catalogue.shopify_skus, (spec.kind, line.sku)
        for follow_up in spec.follow_ups:
            assert follow_up.sku is None or follow_up.sku in catalogue.shopify_skus


def test_kinds_carry_what_their_names_promise(catalogue: Catalogue) -> None:
    rng = random.Random(8)

    def one(kind: str):
        return make_order(rng, catalogue, kind, hold_window_seconds=30)

    def skus_of(kind: str) -> set[str]:
        return {line.sku for line in one(kind).order.lines}

    b2bs = [one("b2b").order for _ in range(12)]
    assert all(o.shipping_address.company for o in b2bs)
    assert all(o.customer_tags == ["B2B"] or o.company is not None for o in b2bs)
    assert any(o.company is not None for o in b2bs) and any(o.customer_tags for o in b2bs)
    assert not any(o.custom_attributes for o in b2bs)  # merchant-controlled signals only
    assert one("shopper_wholesale").order.custom_attributes == {"order_type": "wholesale"}
    names = {one("hostile_contact").order.shipping_address.name for _ in range(20)}
    assert any((n or "").startswith("=HYPERLINK(") for n in names)
    assert any("\u202e" in (n or "") for n in names) and any("\u200b" in (n or "") for n in names)
    assert any(line.sku.endswith("\\") for line in one("hostile_sku").order.lines)
    hostile = one("hostile_address").order.shipping_address
    assert hostile.address1 in HOSTILE_LINES and hostile.address2 in HOSTILE_LINES
    assert any(line.lstrip()[:1] in "=+-@" for line in HOSTILE_LINES)
    assert any(c in "".join(HOSTILE_LINES) for c in ',"\n')
    assert any(ord(c) > 127 for c in (one("unicode_address").order.shipping_address.city or ""))
    assert {line.sku for line in one("unmapped_sku").order.lines} & set(catalogue.unmapped_skus)
    assert any(line.price == 0 for line in one("zero_priced").order.lines)
    assert {catalogue.gift_card_sku, catalogue.digital_sku} <= skus_of("non_shipping_mixed")
    assert skus_of("native_bundle") & set(catalogue.native_bundles)
    assert skus_of("config_bundle") & set(catalogue.config_bundles)
    pending = one("pending_then_paid")
    assert pending.order.financial_status == "PENDING" and pending.follow_ups[0].action == "mark_paid"
    assert one("bad_address").order.shipping_address.zip is None
    # Edits and cancellations land either inside the 30 s hold window or after it.
    for kind in ("edit_in_hold", "cancel_in_hold", "address_change_in_hold"):
        assert all(f.delay_seconds < 30 for f in one(kind).follow_ups)
    for kind in ("edit_after_hold", "cancel_after_hold"):
        assert all(f.delay_seconds > 30 for f in one(kind).follow_ups)
    with pytest.raises(ValueError, match="unknown order kind"):
        one("nonsense")


@pytest.fixture
def sandboxes() -> Iterator[tuple[SandboxControl, PeoplevoxControl]]:
    shop_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(create_pvx_app(PeoplevoxSandboxConfig())).start()
    shop, pvx = SandboxControl(shop_server.url), PeoplevoxControl(pvx_server.url)
    try:
        yield shop, pvx
    finally:
        shop.close()
        pvx.close()
        shop_server.stop()
        pvx_server.stop()


def test_seeds_both_sandboxes_and_places_hundreds_of_orders(
    sandboxes: tuple[SandboxControl, PeoplevoxControl],
) -> None:
    shop, pvx = sandboxes
    catalogue = seed_catalogue(shop, pvx, size=300, rng=random.Random(1))
    shop_state = shop.state()
    assert {v["sku"] for v in shop_state["variants"]} == catalogue.shopify_skus
    pvx_state = pvx.state()
    assert {i["item_code"] for i in pvx_state.items} == set(catalogue.item_codes)
    assert {s.site for s in pvx_state.stock} == {"PrimarySite", "Wholesale"}

    started = time.monotonic()
    report = run_traffic(
        shop,
        catalogue,
        orders_per_minute=12_000,
        duration_seconds=30.0,  # a ceiling under load: max_orders ends it, usually within seconds
        rng=random.Random(2),
        stop_event=threading.Event(),
        hold_window_seconds=0.5,
        max_orders=300,
    )
    assert time.monotonic() - started < 40
    orders = shop.state()["orders"]
    assert len(orders) == sum(report.placed.values()) == 300
    assert {o["id"] for o in orders} == set(report.order_ids)
    assert sum(report.follow_ups.values()) > 0 and not report.errors
    by_tag = {kind: [o for o in orders if kind in o["tags"]] for kind in report.placed}
    assert all(o["customer_tags"] == ["B2B"] or o["company"] for o in by_tag.get("b2b", []))
    assert all(o["cancelled_at"] for o in by_tag.get("cancel_in_hold", []))
    assert all(o["financial_status"] == "PAID" for o in by_tag.get("pending_then_paid", []))


def test_stop_event_ends_the_loop_early(sandboxes: tuple[SandboxControl, PeoplevoxControl]) -> None:
    shop, pvx = sandboxes
    catalogue = seed_catalogue(shop, pvx, size=60, rng=random.Random(1))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    report = run_traffic(shop, catalogue, 600, duration_seconds=60, rng=random.Random(2), stop_event=stop)
    assert time.monotonic() - started < 5
    assert 0 < sum(report.placed.values()) < 60


def test_money_follow_ups_capture_refund_and_wait_for_despatch_to_return() -> None:
    """With the merchant's Admin API and the warehouse: authorised orders are captured, a unit of
    a partial refund is refunded, and a return waits (then gives up) when nothing was despatched:
    no order in this test ever reaches the warehouse."""
    shop_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(create_pvx_app(PeoplevoxSandboxConfig())).start()
    shop, pvx = SandboxControl(shop_server.url), PeoplevoxControl(pvx_server.url)
    merchant = ShopifyClient(shop_server.url, "shpat_sandbox")
    try:
        catalogue = seed_catalogue(shop, pvx, size=60, rng=random.Random(1))
        report = run_traffic(
            shop, catalogue, orders_per_minute=6000, duration_seconds=30.0, rng=random.Random(3),
            hold_window_seconds=0.2, max_orders=200, merchant=merchant, warehouse=Warehouse(pvx, "SHP-"),
        )  # fmt: skip
        assert not report.errors, report.errors[:5]
        by_kind = {k: [o for o in shop.state()["orders"] if k in o["tags"]] for k in report.placed}
        captured = by_kind["authorised_then_captured"]
        assert captured and report.follow_ups["capture"] == len(captured)
        assert all(o["financial_status"] == "PAID" for o in captured)
        refunded = by_kind["partial_refund"]
        assert refunded and report.follow_ups["refund"] == len(refunded)
        for o in refunded:
            (refund,) = shop.get_order(o["id"])["refunds"]
            assert [(rl["quantity"], rl["restock_type"]) for rl in refund["lines"]] == [(1, "CANCEL")]
        assert report.skipped["return"] == len(by_kind["returned"]) > 0 and not pvx.state().returns
    finally:
        for closing in (merchant, shop, pvx):
            closing.close()
        pvx_server.stop()
        shop_server.stop()
