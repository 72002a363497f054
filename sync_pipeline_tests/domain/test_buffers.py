from __future__ import annotations

from sync_pipeline.lib.domain.buffers import BufferDecision, buffer_for, publishable_quantity

from .factories import RULES

BUFFERS = RULES.stock_buffers


def test_precedence_sku_then_tag_then_velocity_then_default() -> None:
    assert buffer_for("HOODIE-GRY-M", ["fragile"], 50, BUFFERS) == BufferDecision(5, "sku")
    assert buffer_for("TEE-BLK-M", ["Fragile"], 50, BUFFERS) == BufferDecision(3, "tag")
    assert buffer_for("TEE-BLK-M", [], 25, BUFFERS) == BufferDecision(10, "velocity")
    assert buffer_for("TEE-BLK-M", [], 6, BUFFERS) == BufferDecision(4, "velocity")
    assert buffer_for("TEE-BLK-M", [], 1, BUFFERS) == BufferDecision(2, "default")
    assert buffer_for("TEE-BLK-M", [], None, BUFFERS) == BufferDecision(2, "default")


def test_largest_matching_tag_wins() -> None:
    assert buffer_for("TEE-BLK-M", ["limited-edition", "fragile"], None, BUFFERS).buffer == 3


def test_publishable_never_negative() -> None:
    assert publishable_quantity(10, 3) == 7
    assert publishable_quantity(2, 3) == 0
