from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.mapping import Mapped, Unmapped, UnmappedReason, map_sku

from .factories import PROPERTY

KNOWN = frozenset({"TEE-BLK-M", "TEE-BLK-L", "CAP-BLK-OS"})
OVERRIDES = {"TEE-BLACK-M": "TEE-BLK-M", "OLD-GONE": "NOT-IN-PVX"}


def test_sku_equal_to_an_item_code_maps_to_itself() -> None:
    assert map_sku("TEE-BLK-M", KNOWN, OVERRIDES) == Mapped("TEE-BLK-M", "TEE-BLK-M", via_override=False)


def test_override_wins() -> None:
    assert map_sku("TEE-BLACK-M", KNOWN, OVERRIDES) == Mapped("TEE-BLACK-M", "TEE-BLK-M", via_override=True)


def test_override_to_an_unknown_item_code_is_unmapped() -> None:
    result = map_sku("OLD-GONE", KNOWN, OVERRIDES)
    assert isinstance(result, Unmapped) and result.reason is UnmappedReason.OVERRIDE_TARGET_UNKNOWN
    assert "'NOT-IN-PVX'" in result.message


def test_blank_sku() -> None:
    for sku in (None, "", "   "):
        result = map_sku(sku, KNOWN, OVERRIDES)
        assert isinstance(result, Unmapped) and result.reason is UnmappedReason.BLANK_SKU


def test_near_misses_are_not_mapped_but_explained() -> None:
    by_case = map_sku("tee-blk-m", KNOWN, OVERRIDES)
    by_space = map_sku(" TEE-BLK-M", KNOWN, OVERRIDES)
    assert isinstance(by_case, Unmapped) and "differs only in case" in by_case.message
    assert isinstance(by_space, Unmapped) and "spaces around it" in by_space.message


@PROPERTY
@given(
    sku=st.one_of(st.none(), st.text(max_size=12)),
    known=st.frozensets(st.text(min_size=1, max_size=12), max_size=8),
    overrides=st.dictionaries(st.text(min_size=1, max_size=12), st.text(min_size=1, max_size=12), max_size=5),
)
def test_mapping_is_exact_and_total(
    sku: str | None, known: frozenset[str], overrides: dict[str, str]
) -> None:
    result = map_sku(sku, known, overrides)
    if isinstance(result, Mapped):
        # A mapped code is always one Peoplevox has, reached by override or by identity.
        assert result.item_code in known
        assert result.item_code == overrides.get(result.sku, result.sku)
        assert result.via_override == (result.sku in overrides)
    else:
        assert result.message
        if sku and sku.strip():
            assert overrides.get(sku, sku) not in known
