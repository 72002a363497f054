from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.bundles import expand_bundle, explode_lines, merge_quantities
from sync_pipeline.lib.domain.config import BundlesConfig
from sync_pipeline.lib.domain.models import BundleGroup

from .factories import PROPERTY, RULES, make_line

BUNDLES = RULES.bundles


def test_config_bundle_becomes_its_components() -> None:
    units = explode_lines([make_line(sku="BUNDLE-STARTER", quantity=2, unit_price=Decimal("40"))], BUNDLES)
    assert [(u.sku, u.quantity) for u in units] == [("TEE-BLK-M", 2), ("TEE-WHT-M", 2), ("SOCK-BLK-OS", 4)]
    assert sum(u.value for u in units) == Decimal("80")


def test_nested_bundle_expands_recursively() -> None:
    assert expand_bundle("BUNDLE-GIFT-BOX", 2, BUNDLES) == [
        ("SOCK-BLK-OS", 6),
        ("CAP-BLK-OS", 2),
        ("TOTE-NAT-OS", 2),
    ]


def test_shopify_bundle_components_are_not_exploded_again() -> None:
    group = BundleGroup(
        id="gid://shopify/LineItemGroup/1", title="Starter", quantity=1, parent_sku="BUNDLE-X"
    )
    # Even a component whose SKU is a configured bundle stays as it is.
    line = make_line(sku="BUNDLE-SOCKS-3PK", quantity=1, bundle_group=group)
    assert [(u.sku, u.quantity) for u in explode_lines([line], BUNDLES)] == [("BUNDLE-SOCKS-3PK", 1)]


def test_merge_keeps_first_seen_order() -> None:
    assert merge_quantities([("B", 1), ("A", 2), ("B", 3)]) == [("B", 4), ("A", 2)]


@st.composite
def bundle_configs(draw: st.DrawFn) -> BundlesConfig:
    """Random acyclic configs: bundle i may only contain leaves or bundles with a higher index."""
    count = draw(st.integers(1, 5))
    names = [f"BUNDLE-{i}" for i in range(count)]
    leaves = ["LEAF-A", "LEAF-B", "LEAF-C", "LEAF-D"]
    bundles = {}
    for index, name in enumerate(names):
        pool = leaves + names[index + 1 :]
        chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True))
        bundles[name] = {"components": [{"sku": sku, "quantity": draw(st.integers(1, 4))} for sku in chosen]}
    return BundlesConfig.model_validate({"bundles": bundles})


def _leaf_units(sku: str, config: BundlesConfig) -> int:
    spec = config.bundles.get(sku)
    if spec is None:
        return 1
    return sum(c.quantity * _leaf_units(c.sku, config) for c in spec.components)


@PROPERTY
@given(config=bundle_configs(), picks=st.lists(st.tuples(st.integers(0, 6), st.integers(1, 5)), max_size=6))
def test_explosion_conserves_units_and_leaves_no_bundle(
    config: BundlesConfig, picks: list[tuple[int, int]]
) -> None:
    names = [*config.bundles, "LEAF-A", "LEAF-B"]
    lines = [
        make_line(line_id=str(i), sku=names[pick % len(names)], quantity=qty, unit_price=Decimal("9.99"))
        for i, (pick, qty) in enumerate(picks)
    ]
    units = explode_lines(lines, config)
    assert not any(config.is_bundle(u.sku or "") for u in units)
    assert sum(u.quantity for u in units) == sum(
        line.quantity * _leaf_units(line.sku or "", config) for line in lines
    )
    assert abs(
        sum(u.value for u in units) - sum(line.unit_price * line.quantity for line in lines)
    ) < Decimal("0.0001")
