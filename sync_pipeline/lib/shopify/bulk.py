"""Bulk query operations: large reads that do not spend the query-cost bucket.

`run_bulk_query` starts `bulkOperationRunQuery` (waiting for a slot when another bulk query of
this app is running: one at a time is the stricter of Shopify's documented limits), polls
`bulkOperation(id:)` with a growing interval until it ends, and returns the finished operation.
`iter_bulk_objects` streams its JSONL file. FAILED, CANCELED and EXPIRED raise
`ShopifyBulkError`, and so does a file whose line count differs from `objectCount`: a partial
result is never taken for a whole one.

`iter_bulk_orders` / `iter_bulk_product_variants` give the same `Order` / `ProductVariant`
models as the paginated reads, from the same fragments.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field

from . import bulk_documents as bulk_docs
from .bulk_results import parse_lines, reassemble
from .errors import ShopifyBulkError, ShopifyError, ShopifyQueryError, ShopifyUserErrors, UserError
from .models import Order, ProductVariant, ShopifyModel

if TYPE_CHECKING:
    from .transport import GraphQLTransport

FINISHED = {"COMPLETED", "FAILED", "CANCELED", "EXPIRED"}
STILL_RUNNING = {"CREATED", "RUNNING"}  # what bulkOperationCancel accepts
# Shopify stops a bulk query that has not completed within 10 days and marks it failed (the bulk
# operations guide): waiting longer is pointless.
BULK_QUERY_LIMIT_SECONDS = 10 * 24 * 3600.0
# An operation whose `objectCount` (and status) has not moved for this long is taken for stuck: it
# is cancelled and the read fails loudly. Until session 18 the wait was a fixed hour whatever the
# progress: an export of 100,000 orders that was still writing ~67 objects a second was given up.
BULK_STALL_SECONDS = 1800.0
# A bulk query refused because another of this app's holds the slot waits for that one as long
# as it makes progress (the same rule), when the refusal names it; one that names none waits up to
# `timeout`. (Until session 18 the slot was waited for an hour, while the holder could now be
# waited for by its own reader for days.)
_HOLDER = re.compile(r"gid://shopify/BulkOperation/\d+")


class _Progress:
    """When an operation last moved: more objects than ever seen, or a status not seen before (a
    status flipping back and forth is not progress)."""

    def __init__(self, now: float) -> None:
        self.most = -1
        self.statuses: set[str] = set()
        self.moved = now

    def still_for(self, op: BulkOperation, now: float) -> float:
        """Seconds since it last moved, having seen `op` now."""
        if op.object_count > self.most or op.status not in self.statuses:
            self.most = max(self.most, op.object_count)
            self.statuses.add(op.status)
            self.moved = now
        return now - self.moved


class BulkOperation(ShopifyModel):
    id: str
    status: str
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    partial_data_url: str | None = None
    created_at: str | None = None
    completed_at: str | None = None


class Count(ShopifyModel):
    count: int
    precision: str = Field("EXACT")


class BulkApi:
    """Mixed into `ShopifyClient` (which provides `execute` and `transport`)."""

    transport: GraphQLTransport
    bulk_poll_seconds: float = 0.5
    bulk_poll_cap_seconds: float = 10.0

    if TYPE_CHECKING:  # provided by ShopifyClient

        def execute(self, operation: str, document: str, variables: dict[str, Any], safe_to_retry: bool = True,
                    cost_hint: float = 0.0) -> Any: ...  # fmt: skip

    # ----- sizes ------------------------------------------------------------------------------
    def count_orders(self, search: str, limit: int = 10_000) -> Count:
        """How many orders `search` matches (exact up to `limit`); raises on an ignored search term."""
        data = self.execute("OrdersCount", bulk_docs.ORDERS_COUNT, {"query": search, "limit": limit})
        return Count.model_validate(data["ordersCount"])

    def count_product_variants(self, search: str | None = None, limit: int = 10_000) -> Count:
        data = self.execute("ProductVariantsCount", bulk_docs.PRODUCT_VARIANTS_COUNT,
                            {"query": search, "limit": limit})  # fmt: skip
        return Count.model_validate(data["productVariantsCount"])

    # ----- the operation ----------------------------------------------------------------------
    def start_bulk_query(
        self,
        query: str,
        *,
        wait_for_slot: float = BULK_QUERY_LIMIT_SECONDS,
        stalled_after: float = BULK_STALL_SECONDS,
    ) -> BulkOperation:
        """Create the operation. While another bulk query of this app holds the slot, wait for it
        as long as it makes progress (up to `wait_for_slot`); raise if it stalls for
        `stalled_after` seconds (it is not ours to cancel: the error names it)."""
        started = time.monotonic()
        deadline = started + wait_for_slot
        delay = self.bulk_poll_seconds
        holders: dict[str, _Progress] = {}
        while True:
            payload = self.execute("BulkOperationRunQuery", bulk_docs.BULK_OPERATION_RUN_QUERY,
                                   {"query": query, "groupObjects": True},
                                   safe_to_retry=False)["bulkOperationRunQuery"]  # fmt: skip
            errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
            if not errors:
                return BulkOperation.model_validate(payload["bulkOperation"])
            busy = all(e.code == "OPERATION_IN_PROGRESS" for e in errors)
            if not busy or time.monotonic() + delay > deadline:
                raise ShopifyUserErrors("BulkOperationRunQuery", errors)
            named = next((m.group(0) for e in errors if (m := _HOLDER.search(e.message or ""))), None)
            holder = self.get_bulk_operation(named) if named else None
            if holder is not None and holder.status not in FINISHED:
                now = time.monotonic()
                still = holders.setdefault(holder.id, _Progress(now)).still_for(holder, now)
                if still >= stalled_after:
                    raise ShopifyBulkError(
                        holder.id,
                        f"holds this app's bulk query slot, still {holder.status} with "
                        f"{holder.object_count} objects and none new for {still:.0f} s: cancel it "
                        "(bulkOperationCancel) if it is stuck, then run this read again",
                        status=holder.status,
                    )
            time.sleep(delay)
            delay = min(self.bulk_poll_cap_seconds, delay * 2)

    def get_bulk_operation(self, operation_id: str) -> BulkOperation | None:
        node = self.execute("BulkOperation", bulk_docs.BULK_OPERATION, {"id": operation_id}).get(
            "bulkOperation"
        )
        return BulkOperation.model_validate(node) if node else None

    def cancel_bulk_operation(self, operation_id: str) -> BulkOperation | None:
        payload = self.execute("BulkOperationCancel", bulk_docs.BULK_OPERATION_CANCEL, {"id": operation_id},
                               safe_to_retry=False)["bulkOperationCancel"]  # fmt: skip
        errors = [UserError.model_validate(e) for e in payload.get("userErrors") or []]
        if errors:
            raise ShopifyUserErrors("BulkOperationCancel", errors)
        node = payload.get("bulkOperation")
        return BulkOperation.model_validate(node) if node else None

    def wait_for_bulk_operation(
        self,
        operation_id: str,
        timeout: float = BULK_QUERY_LIMIT_SECONDS,
        stalled_after: float = BULK_STALL_SECONDS,
    ) -> BulkOperation:
        """Poll until the operation ends; COMPLETED is returned, anything else raises. It is waited
        for while it makes progress, up to `timeout` in all; `stalled_after` seconds with no new
        object (nor a new status) raise."""
        started = time.monotonic()
        deadline = started + timeout
        delay = self.bulk_poll_seconds
        progress = _Progress(started)
        while True:
            op = self.get_bulk_operation(operation_id)
            if op is None:
                raise ShopifyBulkError(operation_id, "Shopify does not know this bulk operation")
            if op.status in FINISHED:
                return _completed(op)
            now = time.monotonic()
            still = progress.still_for(op, now)
            if still >= stalled_after:
                raise ShopifyBulkError(
                    operation_id,
                    f"still {op.status} with {op.object_count} objects, none new for {still:.0f} s "
                    f"({now - started:.0f} s in all)",
                    status=op.status,
                )
            if now + delay > deadline:
                raise ShopifyBulkError(
                    operation_id, f"still {op.status} after {timeout:.0f} s", status=op.status
                )
            time.sleep(delay)
            delay = min(self.bulk_poll_cap_seconds, delay * 1.5)

    def run_bulk_query(
        self,
        query: str,
        *,
        timeout: float = BULK_QUERY_LIMIT_SECONDS,
        stalled_after: float = BULK_STALL_SECONDS,
    ) -> BulkOperation:
        """Start `query` and wait for its result while it makes progress (`wait_for_bulk_operation`);
        if it stalls, or is still running at `timeout`, cancel it.

        A given-up result is thrown away, and while the operation runs no other bulk query of
        this app can start: left alone it would hold up the next backfill for nothing. So it is
        cancelled whatever stopped the wait (a cancelled run too).
        """
        op = self.start_bulk_query(query, wait_for_slot=timeout, stalled_after=stalled_after)
        try:
            return self.wait_for_bulk_operation(op.id, timeout=timeout, stalled_after=stalled_after)
        except BaseException as exc:
            # Given up (stalled, too long), the run cancelled (an interrupt) or the wait failed
            # otherwise: an operation left running would hold this app's bulk slot for every later
            # read until it ended. One that ended on its own (FAILED, EXPIRED…) holds nothing.
            if not isinstance(exc, ShopifyBulkError) or exc.status in STILL_RUNNING:
                _cancel(self, op.id, exc)
            raise

    def iter_bulk_objects(self, op: BulkOperation) -> Iterator[dict[str, Any]]:
        """Every line of a COMPLETED operation's file, streamed; the count must match `objectCount`."""
        if op.url is None:
            if op.object_count:
                raise ShopifyBulkError(
                    op.id, f"COMPLETED with {op.object_count} objects but no url", status=op.status
                )
            return
        seen = 0
        lines = self.transport.stream_lines("BulkOperationResult", op.url)
        try:
            for obj in parse_lines(lines, op.id):
                seen += 1
                yield obj
        except ShopifyQueryError as exc:
            raise ShopifyBulkError(op.id, f"its result file was refused ({exc}); an expired URL answers 403: "
                                   "run the operation again", status=op.status) from exc  # fmt: skip
        if seen != op.object_count:
            raise ShopifyBulkError(
                op.id, f"the result file held {seen} objects but the operation reported {op.object_count}",
                status=op.status,
            )  # fmt: skip

    # ----- typed reads ------------------------------------------------------------------------
    def iter_bulk_orders(self, search: str, *, timeout: float = BULK_QUERY_LIMIT_SECONDS) -> Iterator[Order]:
        """Orders matching `search` with every line item, through one bulk operation.

        A bulk result cannot report a search term Shopify ignored: callers count with the same
        search first (`count_orders`, as `ShopifyClient` does to choose bulk), which raises on one.
        """
        op = self.run_bulk_query(bulk_docs.bulk_orders(search), timeout=timeout)
        for node in reassemble(self.iter_bulk_objects(op), "lineItems", op.id):
            yield Order.model_validate(node)

    def iter_bulk_product_variants(
        self, search: str | None = None, *, timeout: float = BULK_QUERY_LIMIT_SECONDS
    ) -> Iterator[ProductVariant]:
        """Variants matching `search`; like `iter_bulk_orders`, callers check the search by counting."""
        op = self.run_bulk_query(bulk_docs.bulk_product_variants(search), timeout=timeout)
        for node in reassemble(self.iter_bulk_objects(op), "productVariantComponents", op.id):
            yield ProductVariant.model_validate(node)


def _cancel(client: BulkApi, operation_id: str, exc: BaseException) -> None:
    """Cancel a given-up operation, best effort, noting what happened on `exc`."""
    try:
        client.cancel_bulk_operation(operation_id)
        exc.add_note("cancelled it, so the next bulk query can start")
    except ShopifyError as cancel_error:  # e.g. it finished in between: nothing holds the slot
        exc.add_note(f"cancelling it failed: {cancel_error}")


def _completed(op: BulkOperation) -> BulkOperation:
    if op.status == "COMPLETED":
        return op
    problem = {
        "FAILED": f"FAILED ({op.error_code or 'no error code'}) after {op.object_count} objects",
        "CANCELED": f"CANCELED after {op.object_count} objects",
        "EXPIRED": "its result URL has expired (Shopify keeps results 7 days): run it again",
    }[op.status]
    raise ShopifyBulkError(op.id, problem, status=op.status, error_code=op.error_code,
                           partial_data_url=op.partial_data_url)  # fmt: skip
