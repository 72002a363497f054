"""Errors the client raises. Each names the operation so a log line says what failed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class UserError(BaseModel):
    field: list[str] | None = None
    message: str
    code: str | None = None


class ShopifyError(Exception):
    """Base class for everything the Shopify client raises."""


class ShopifyQueryError(ShopifyError):
    """Shopify refused the request in a way a retry cannot fix (validation, access, cost)."""

    def __init__(self, operation: str, errors: Any, status: int = 200) -> None:
        self.operation = operation
        self.errors = errors
        self.status = status
        super().__init__(f"{operation}: HTTP {status}: {errors}")

    @property
    def codes(self) -> list[str]:
        if not isinstance(self.errors, list):
            return []
        return [str((e.get("extensions") or {}).get("code")) for e in self.errors if isinstance(e, dict)]


class ShopifySearchWarning(ShopifyQueryError):
    """Shopify ignored part of a search query (`extensions.search[].warnings`): a misspelled
    field or an unquoted date. The result would be wider than asked, so it is not used."""

    def __init__(self, operation: str, searches: list[dict[str, Any]]) -> None:
        self.searches = searches
        super().__init__(operation, searches)
        problems = "; ".join(
            f"{w.get('field')}: {w.get('message')} ({w.get('code')}) in query {s.get('query')!r}"
            for s in searches
            for w in s.get("warnings") or []
        )
        self.args = (f"{operation}: Shopify ignored part of the search: {problems}",)

    @property
    def codes(self) -> list[str]:
        return [str(w.get("code")) for s in self.searches for w in s.get("warnings") or []]


class ShopifyOrderTooLarge(ShopifyError):
    """An order holds more of something than any query under the 1,000-point cap can read whole
    (a plain list such as `Order.refunds(first:)` has no cursor). Raised rather than returning the
    order cut off, so no amount or unit is undercounted silently."""

    def __init__(self, order_id: str, order_name: str | None, what: str) -> None:
        self.order_id, self.order_name, self.what = order_id, order_name, what
        super().__init__(f"order {order_name or ''} ({order_id}) cannot be read whole: {what}")


class ShopifyRetriesExhausted(ShopifyError):
    """Every attempt failed with a retryable problem (throttle, 429, 5xx, timeout)."""

    def __init__(self, operation: str, attempts: int, last_response: str) -> None:
        self.operation = operation
        self.attempts = attempts
        self.last_response = last_response
        super().__init__(f"{operation}: gave up after {attempts} attempts; last response: {last_response}")


class ShopifyOutcomeUnknown(ShopifyError):
    """A non-idempotent mutation may or may not have run (timeout or 5xx after sending).

    Re-read the resource before deciding to repeat it.
    """

    def __init__(self, operation: str, last_response: str) -> None:
        self.operation = operation
        self.last_response = last_response
        super().__init__(f"{operation}: outcome unknown after {last_response}; re-read before retrying")


class ShopifyUserErrors(ShopifyError):
    """A mutation ran and answered with `userErrors`; nothing was changed."""

    def __init__(self, operation: str, errors: list[UserError]) -> None:
        self.operation = operation
        self.errors = errors
        detail = "; ".join(f"{e.code or ''} {'.'.join(e.field or [])}: {e.message}".strip() for e in errors)
        super().__init__(f"{operation}: {detail}")

    @property
    def codes(self) -> list[str | None]:
        return [e.code for e in self.errors]


class ShopifyBulkError(ShopifyError):
    """A bulk operation did not give a whole result: it FAILED, was CANCELED, its file expired,
    or the file read back does not match what the operation reported. Nothing partial is used
    silently; `partial_data_url` is kept for whoever wants to look."""

    def __init__(
        self,
        operation_id: str,
        problem: str,
        *,
        status: str | None = None,
        error_code: str | None = None,
        partial_data_url: str | None = None,
    ) -> None:
        self.operation_id = operation_id
        self.status = status
        self.error_code = error_code
        self.partial_data_url = partial_data_url
        super().__init__(f"bulk operation {operation_id}: {problem}")
