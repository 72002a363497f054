"""Despatches back to Shopify, end to end: real sensors, real runs, both sandboxes over HTTP.

Orders go into the warehouse through the orders flow; the warehouse then despatches them the way a
floor does on a bad day (several packages, a short pick shipped hours apart, a bundle split over
packages) while callbacks are dropped and duplicated, an order is fulfilled by hand, one has its
fulfilment order held and one is cancelled and shipped anyway. Shopify is then checked line by
line against an oracle written here by hand, with the shipping emails per order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sync_pipeline.defs.orders.triggers import InboxCursor
from sync_pipeline.sandbox.shopify.config import FaultSettings
from sync_pipeline.sandbox.shopify.control import CancelSpec, LineSpec, OrderSpec, ProductSpec, VariantSpec
from sync_pipeline_tests.orders.harness import E2EStack, e2e_stack
from sync_pipeline_tests.orders.test_end_to_end import UK

HOLD_SECONDS = 1
COPIES = 2
CATALOGUE = ["TEE-BLK-M", "TEE-WHT-M", "SOCK-BLK-OS", "CAP-BLK-OS", "TOTE-NAT-OS", "HOODIE-GRY-M"]


@dataclass
class Kind:
    lines: dict[str, int]  # Shopify SKU → quantity
    first: list[dict[str, int]]  # packages despatched first
    later: list[dict[str, int]] = field(default_factory=list)  # packages despatched hours later
    fulfilled: dict[str, int] = field(default_factory=dict)  # Shopify SKU → units fulfilled at the end
    fulfilments: int = 0  # fulfilments in Shopify at the end (ours and by hand)
    emails: int = 0
    exceptions: frozenset[str] = frozenset()
    placed: list[dict] = field(default_factory=list)


KINDS = {
    "multi_package": Kind({"TEE-BLK-M": 4}, [{"TEE-BLK-M": 2}, {"TEE-BLK-M": 2}], [], {"TEE-BLK-M": 4}, 2, 2),
    "split_short_pick": Kind(
        {"TEE-BLK-M": 2, "CAP-BLK-OS": 1}, [{"TEE-BLK-M": 2}], [{"CAP-BLK-OS": 1}],
        {"TEE-BLK-M": 2, "CAP-BLK-OS": 1}, 2, 2,
    ),
    "bundle_across_packages": Kind(
        {"BUNDLE-STARTER": 1}, [{"TEE-BLK-M": 1, "TEE-WHT-M": 1}], [{"SOCK-BLK-OS": 2}], {"BUNDLE-STARTER": 1}, 1, 1
    ),
    "fulfilled_by_hand": Kind({"CAP-BLK-OS": 1}, [{"CAP-BLK-OS": 1}], [], {"CAP-BLK-OS": 1}, 1, 0),
    "held_fulfilment_order": Kind(
        {"HOODIE-GRY-M": 1}, [{"HOODIE-GRY-M": 1}], exceptions=frozenset({"fulfillment_on_hold"})
    ),
    "cancelled_shipped_anyway": Kind(
        {"TOTE-NAT-OS": 1}, [{"TOTE-NAT-OS": 1}],
        exceptions=frozenset({"shipped_after_cancel", "shipped_after_cancel_refunded"}),
    ),
}  # fmt: skip


def _despatch_until_quiet(stack: E2EStack, ticks: int = 6) -> None:
    """Tick the despatch sensor until it launches nothing, then force one poll (lost callbacks)."""
    stack.pvx.flush_events()
    time.sleep(0.5)  # the receiver writes the last callbacks
    for _ in range(ticks):
        if stack.tick("peoplevox_despatch_events") == 0:
            break
    raw = stack.cursors.get("peoplevox_despatch_events")
    cursor = InboxCursor.parse(raw)
    stack.cursors["peoplevox_despatch_events"] = InboxCursor(cursor.last_item, 0.0).dump()
    assert stack.tick("peoplevox_despatch_events") == 1, "the poll fallback must launch a run"


@pytest.mark.timeout(300)
def test_despatches_reach_shopify_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with e2e_stack(tmp_path, monkeypatch, HOLD_SECONDS, FaultSettings()) as stack:
        for sku in CATALOGUE:
            stack.shop.add_product(ProductSpec(title=sku, variants=[VariantSpec(sku=sku)]))
        stack.shop.add_product(ProductSpec(title="Starter", variants=[VariantSpec(sku="BUNDLE-STARTER")]))
        stack.pvx.seed_items([(sku, f"50{i:011d}", sku) for i, sku in enumerate(CATALOGUE)])
        stack.pvx.set_stock([(sku, "PrimarySite", 1000) for sku in CATALOGUE])
        for kind in KINDS.values():
            for _ in range(COPIES):
                lines = [LineSpec(sku=s, quantity=q) for s, q in kind.lines.items()]
                kind.placed.append(stack.shop.place_order(OrderSpec(lines=lines, shipping_address=UK)))
        stack.wait_for_webhooks()
        assert stack.tick("shopify_order_events") == 1
        time.sleep(HOLD_SECONDS + 0.5)
        assert stack.tick("orders_release_due") == 1
        assert len(stack.pvx.state().orders) == len(KINDS) * COPIES

        # What happens in Shopify meanwhile.
        for placed in KINDS["fulfilled_by_hand"].placed:
            (fo,) = stack.shop_client.get_fulfillment_orders(placed["id"])
            stack.shop_client.create_fulfillment({fo.id: None})
        for placed in KINDS["held_fulfilment_order"].placed:
            stack.shop.fulfillment_orders(placed["id"], "hold")
        for placed in KINDS["cancelled_shipped_anyway"].placed:
            stack.shop.cancel_order(placed["id"], CancelSpec())

        # The floor ships, callbacks dropped and duplicated.
        stack.pvx.set_faults(callback_drop_rate=0.4, callback_duplicate_rate=0.4)
        packages: dict[str, list[str]] = {}
        for kind in KINDS.values():
            for placed in kind.placed:
                made = stack.pvx.despatch(f"SHP-{placed['legacy_id']}", kind.first)
                packages.setdefault(placed["id"], []).extend(p["number"] for p in made["packages"])
        _despatch_until_quiet(stack)
        for kind in KINDS.values():
            for placed in kind.placed:
                if kind.later:
                    made = stack.pvx.despatch(f"SHP-{placed['legacy_id']}", kind.later)
                    packages[placed["id"]].extend(p["number"] for p in made["packages"])
        _despatch_until_quiet(stack)

        _assert_shopify_matches_oracle(stack, packages)
        assert len(stack.runs) <= 20, stack.runs  # a run per burst, never per package


def _assert_shopify_matches_oracle(stack: E2EStack, packages: dict[str, list[str]]) -> None:
    emails: dict[str, int] = {}
    for e in stack.shop.emails():
        emails[e["order"]] = emails.get(e["order"], 0) + 1
    pvx_tracking = {p.number: p.tracking_number for d in stack.pvx.state().despatches for p in d.packages}
    open_exceptions: dict[str, set[str]] = {}
    for e in stack.ledger.list_open_exceptions():
        open_exceptions.setdefault(e.shopify_order_id or "", set()).add(e.kind)
    for name, kind in KINDS.items():
        for placed in kind.placed:
            order = stack.shop.get_order(placed["id"])
            fulfilled = {
                li["sku"]: li["fulfilled_quantity"] for li in order["line_items"] if li["fulfilled_quantity"]
            }
            assert fulfilled == kind.fulfilled, (name, placed["name"], fulfilled)
            assert len(order["fulfillments"]) == kind.fulfilments, (
                name,
                placed["name"],
                order["fulfillments"],
            )
            assert emails.get(placed["id"], 0) == kind.emails, (name, placed["name"])
            assert open_exceptions.get(placed["id"], set()) == set(kind.exceptions), (name, placed["name"])
            ours = [f for f in order["fulfillments"] if f["notify_customer"]]
            expected_tracking = sorted(pvx_tracking[p] for p in packages[placed["id"]])
            if ours:
                got = sorted(t["number"] for f in ours for t in f["tracking"])
                # Every package's tracking number is on one of our fulfilments, once: a bundle's
                # pooled parcels ride on the fulfilment that completes it.
                assert got == expected_tracking, (name, got)
    with stack.ledger.transaction() as con:
        despatch_states = dict(
            con.execute(
                "SELECT shopify_order_id, despatch_state FROM orders WHERE despatch_state IS NOT NULL"
            ).fetchall()
        )
        sending = con.execute("SELECT count(*) FROM shopify_fulfilments WHERE state = 'sending'").fetchone()[
            0
        ]
    assert sending == 0
    for name in ("multi_package", "split_short_pick", "bundle_across_packages", "fulfilled_by_hand"):
        for placed in KINDS[name].placed:
            assert despatch_states[placed["id"]] == "fulfilled", (name, json.dumps(despatch_states))
