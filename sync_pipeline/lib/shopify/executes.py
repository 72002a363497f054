"""What the operation mixins (`fulfilments.py`, `finance.py`) need of `ShopifyClient`."""

from __future__ import annotations

from typing import Any, Protocol


class Executes(Protocol):
    max_query_cost: int

    def execute(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        safe_to_retry: bool = True,
        cost_hint: float = 0.0,
    ) -> Any: ...

    @staticmethod
    def _user_errors(operation: str, payload: dict[str, Any], key: str = "userErrors") -> None: ...
