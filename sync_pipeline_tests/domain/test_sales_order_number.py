from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.sales_order_number import sales_order_number, shopify_numeric_id

from .factories import PROPERTY

prefixes = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", max_size=10)
ids = st.integers(1, 2**63 - 1)


def test_prefix_and_numeric_id() -> None:
    assert sales_order_number("gid://shopify/Order/5678901234567", "SHP-") == "SHP-5678901234567"
    assert sales_order_number(5678901234567, "") == "5678901234567"


@pytest.mark.parametrize("bad", ["", "gid://shopify/Customer/1", "#1001", "0", "١٢٣", "-4", True, str(2**63)])
def test_rejects_what_is_not_an_order_id(bad: object) -> None:
    with pytest.raises(ValueError):
        shopify_numeric_id(bad)  # type: ignore[arg-type]


@PROPERTY
@given(order_id=ids, prefix=prefixes)
def test_deterministic_and_short(order_id: int, prefix: str) -> None:
    first = sales_order_number(f"gid://shopify/Order/{order_id}", prefix)
    assert first == sales_order_number(order_id, prefix) == sales_order_number(str(order_id), prefix)
    assert len(first) <= 30


@PROPERTY
@given(a=ids, b=ids, prefix=prefixes)
def test_distinct_ids_give_distinct_numbers(a: int, b: int, prefix: str) -> None:
    if a != b:
        assert sales_order_number(a, prefix) != sales_order_number(b, prefix)
