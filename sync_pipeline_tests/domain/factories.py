"""Builders and hypothesis strategies for domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import BusinessRules, load_business_rules
from sync_pipeline.lib.domain.models import Attribute, BundleGroup, ShippingAddress, ShopLine, ShopOrder

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "config"
RULES: BusinessRules = load_business_rules(EXAMPLES)

# The sandbox-like catalogue the examples are written for.
KNOWN_ITEM_CODES: frozenset[str] = frozenset(
    [f"TEE-{colour}-{size}" for colour in ("BLK", "WHT", "NVY") for size in ("S", "M", "L", "XL")]
    + ["HOODIE-GRY-M", "HOODIE-GRY-L", "SOCK-BLK-OS", "CAP-BLK-OS", "TOTE-NAT-OS"]
)

PROPERTY = settings(max_examples=120, deadline=None)

T0 = datetime(2026, 10, 1, 9, 30, tzinfo=UTC)

GOOD_ADDRESS = ShippingAddress(
    name="Jane Doe",
    address1="1 High Street",
    city="London",
    province_code="ENG",
    zip="N1 9GU",
    country_code="GB",
)


def make_line(
    line_id: str = "1", sku: str | None = "TEE-BLK-M", quantity: int = 1, **fields: Any
) -> ShopLine:
    return ShopLine(
        id=line_id, sku=sku, quantity=quantity, unit_price=fields.pop("unit_price", Decimal("20")), **fields
    )


def make_order(*lines: ShopLine, **fields: Any) -> ShopOrder:
    base: dict[str, Any] = {
        "id": "gid://shopify/Order/5678901234567",
        "name": "#1001",
        "created_at": T0,
        "updated_at": T0,
        "processed_at": T0,
        "email": "jane@example.com",
        "shipping_address": GOOD_ADDRESS,
        "total": Decimal("40.00"),
        "lines": lines or (make_line(),),
    }
    base.update(fields)
    return ShopOrder(**base)


good_skus = st.sampled_from(
    sorted(KNOWN_ITEM_CODES) + sorted(RULES.bundles.bundles) + sorted(RULES.sku_overrides.overrides)
)
bad_skus = st.sampled_from(["UNKNOWN-SKU", "tee-blk-m", " TEE-BLK-M", ""])
# Mostly good data, so translated orders are common; bad SKUs and non-shipping lines still often.
skus = st.sampled_from(["good"] * 12 + ["bad", "none"]).flatmap(
    lambda pick: {"good": good_skus, "bad": bad_skus}.get(pick, st.none())
)
mostly_true = st.sampled_from([True, True, True, True, False])
mostly_false = st.sampled_from([False, False, False, False, True])


@st.composite
def shop_lines(draw: st.DrawFn, index: int = 0) -> ShopLine:
    grouped = draw(mostly_false)
    return ShopLine(
        id=str(index + 1),
        sku=draw(skus),
        quantity=draw(st.sampled_from([0, 1, 1, 2, 3, 5])),
        requires_shipping=draw(mostly_true),
        is_gift_card=draw(mostly_false),
        unit_price=draw(st.decimals(min_value=0, max_value=500, places=2)),
        name=f"line {index + 1}",
        bundle_group=BundleGroup(id="g1", title="Starter", quantity=1, parent_sku="BUNDLE-STARTER")
        if grouped
        else None,
    )


@st.composite
def shop_orders(draw: st.DrawFn) -> ShopOrder:
    count = draw(st.sampled_from([0, 1, 1, 2, 2, 3, 4, 5]))
    lines = tuple(draw(shop_lines(index)) for index in range(count))
    return ShopOrder(
        id=f"gid://shopify/Order/{draw(st.integers(1, 2**63 - 1))}",
        name=f"#{draw(st.integers(1000, 99999))}",
        created_at=T0,
        updated_at=T0,
        processed_at=T0,
        cancelled_at=draw(st.sampled_from([None, None, None, None, None, T0])),
        tags=tuple(draw(st.lists(st.sampled_from(["vip", "B2B", "sale"]), max_size=2))),
        customer_tags=tuple(draw(st.lists(st.sampled_from(["B2B", "wholesale", "vip"]), max_size=2))),
        custom_attributes=tuple(
            draw(
                st.lists(
                    st.builds(
                        Attribute, key=st.sampled_from(["order_type", "gift"]), value=st.text(max_size=10)
                    )
                )
            )
        ),
        b2b_company=draw(st.sampled_from([None, None, "Northwind Retail Ltd"])),
        source_name=draw(st.sampled_from([None, "web", "pos", "shopify_draft_order"])),
        shipping_line_title=draw(st.sampled_from([None, "Standard", "Express 24h", "Next day"])),
        email=draw(st.sampled_from([None, "a@example.com"])),
        shipping_address=draw(
            st.sampled_from([*[GOOD_ADDRESS] * 8, None, ShippingAddress(name="X", country_code="GB")])
        ),
        total=draw(st.decimals(min_value=0, max_value=5000, places=2)),
        lines=lines,
    )
