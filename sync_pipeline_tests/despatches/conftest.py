"""The orders flow's stack (both sandboxes, seeded catalogue, real clients), reused."""

from sync_pipeline_tests.orders.conftest import stack

__all__ = ["stack"]
