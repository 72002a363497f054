from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.buffers import BufferDecision, buffer_for, publishable_quantity

from .factories import PROPERTY, RULES

BUFFERS = RULES.stock_buffers


def test_precedence_sku_then_tag_then_velocity_then_default() -> None:
    assert buffer_for("HOODIE-GRY-M", ["fragile"], 50, BUFFERS) == BufferDecision(5, "sku")
    assert buffer_for("TEE-BLK-M", ["Fragile"], 50, BUFFERS) == BufferDecision(3, "tag")
    assert buffer_for("TEE-BLK-M", [], 2, BUFFERS) == BufferDecision(10, "velocity")
    assert buffer_for("TEE-BLK-M", [], 0.3, BUFFERS) == BufferDecision(4, "velocity")
    assert buffer_for("TEE-BLK-M", [], 0.1, BUFFERS) == BufferDecision(2, "default")
    assert buffer_for("TEE-BLK-M", [], None, BUFFERS) == BufferDecision(2, "default")


def test_largest_matching_tag_wins() -> None:
    assert buffer_for("TEE-BLK-M", ["limited-edition", "fragile"], None, BUFFERS).buffer == 3


def test_peak_mode_adds_to_every_buffer_but_a_skus_own() -> None:
    assert BUFFERS.peak is not None and BUFFERS.peak.extra_buffer == 2
    assert buffer_for("TEE-BLK-M", [], 2, BUFFERS, peak=True) == BufferDecision(12, "velocity+peak")
    assert buffer_for("TEE-BLK-M", [], None, BUFFERS, peak=True) == BufferDecision(4, "default+peak")
    assert buffer_for("TOTE-NAT-OS", [], 50, BUFFERS, peak=True) == BufferDecision(0, "sku")


@PROPERTY
@given(
    st.sampled_from(["TEE-BLK-M", "HOODIE-GRY-M", "CAP-BLK-OS"]),
    st.lists(st.sampled_from(["fragile", "limited-edition", "sale", "FRAGILE"]), max_size=3),
    st.one_of(st.none(), st.floats(0, 100)),
)
def test_peak_never_lowers_a_buffer_and_buffers_are_never_negative(sku, tags, velocity) -> None:  # type: ignore[no-untyped-def]
    calm = buffer_for(sku, tags, velocity, BUFFERS)
    peak = buffer_for(sku, tags, velocity, BUFFERS, peak=True)
    assert 0 <= calm.buffer <= peak.buffer


def test_publishable_never_negative() -> None:
    assert publishable_quantity(10, 3) == 7
    assert publishable_quantity(2, 3) == 0
