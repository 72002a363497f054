"""`build_listings` decides each distinct buffer once and reuses it: the reuse must never hand a
variant a buffer decided for another (its SKU's own buffer, its tags, its velocity, peak mode)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.domain.buffers import buffer_for
from sync_pipeline.lib.flows.stock.demand import Demand
from sync_pipeline.lib.flows.stock.listings import build_listings
from sync_pipeline.lib.ledger.catalogue import VariantRow
from sync_pipeline_tests.stock.world import RULES

CONFIG = RULES.stock_buffers
# SKUs with a buffer of their own and without; tags with a buffer (in either case) and without;
# velocities below, at and above the tiers' thresholds.
SKUS = st.sampled_from(["HOODIE-GRY-M", "TOTE-NAT-OS", "TEE-BLK-M", "CAP-BLK-OS", "SOCK-BLK-OS"])
TAGS = st.lists(st.sampled_from(["fragile", "FRAGILE", "limited-edition", "sale", "new"]), max_size=3)
VELOCITY = st.sampled_from([0.0, 0.1, 0.25, 0.3, 1.0, 2.0, 50.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(SKUS, TAGS), min_size=1, max_size=12),
    st.dictionaries(SKUS, VELOCITY),
    st.booleans(),
)
def test_every_listing_gets_the_buffer_its_own_inputs_decide(
    variants: list[tuple[str, list[str]]], velocity: dict[str, float], peak: bool
) -> None:
    rows = [
        VariantRow(f"gid://shopify/ProductVariant/{i}", sku, None, f"gid://shopify/InventoryItem/{i}", sku,
                   False, tuple(tags), True)
        for i, (sku, tags) in enumerate(variants)
    ]  # fmt: skip
    demand = Demand(velocity, {}, 0, peak)
    listings = build_listings(rows, {"PrimarySite": "gid://shopify/Location/1"}, RULES, demand)
    assert len(listings) == len(rows)
    for row, listing in zip(rows, listings, strict=True):
        expected = buffer_for(row.sku or "", row.product_tags, velocity.get(row.sku or "", 0.0), CONFIG, peak)
        assert listing.buffer == expected, (row.sku, row.product_tags, velocity, peak)
