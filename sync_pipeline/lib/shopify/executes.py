"""What the operation mixins (`fulfilments.py`, `finance.py`) need of `ShopifyClient`."""

from __future__ import annotations

from typing import Any, Protocol

MAX_PAGE = 250  # nodes in one connection page, and items in one input array


def fit(per_node: int, limit: int, overhead: int = 2) -> int:
    """How many nodes of `per_node` points one query of at most `limit` points can ask for."""
    return max(1, min(MAX_PAGE, (limit - overhead) // max(1, per_node)))


class Executes(Protocol):
    max_query_cost: int

    def execute(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        safe_to_retry: bool = True,
        cost_hint: float = 0.0,
        retry_until: float | None = None,
    ) -> Any: ...

    @staticmethod
    def _user_errors(operation: str, payload: dict[str, Any], key: str = "userErrors") -> None: ...
