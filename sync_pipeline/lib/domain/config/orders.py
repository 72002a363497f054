"""`orders.yaml`: timing and batching of the orders flow."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, Strict

from ..statuses import PROGRESS_STATUSES, PeoplevoxStatus
from .base import RulesModel, SemanticProblem

# The longest prefix that still keeps prefix + a 20-digit Shopify id within Peoplevox's 30
# characters for SalesOrderNumber.
MAX_PREFIX_LENGTH = 10
# Rows per SaveData request. No limit is documented: the WSDL's CsvData is an unbounded string and
# API.md §11's 100 is one integrator's practice (bedrock), not a refusal anyone reported. The
# limiter counts requests, not rows, so at a peak 100-row saves spent about 3.6 requests per 100
# orders, half of all the tenant's requests (benchmarks/README.md, session 10). What the service
# does bound is a request's size (ASP.NET's request length; the client keeps a save under 1 MB and
# splits a bigger one: lib/peoplevox/client.py `MAX_REQUEST_BYTES`). Assumed [I]: a tenant takes
# 1,000 rows a request, the page size it allows reads (API.md §3); a tenant whose host proves
# slower or stricter is set lower in orders.yaml (a save that outlives the client's 120 s timeout
# is looked up before anything is resent, so a wrong guess costs requests, never a duplicate).
MAX_SAVE_ROWS = 1000
DEFAULT_SAVE_ROWS = 500


class OrdersConfig(RulesModel):
    # Time between payment and release to the warehouse, to absorb quick edits and cancellations.
    hold_window_seconds: int = Field(default=900, ge=0, le=7 * 24 * 3600)
    # At or after this Peoplevox status, Shopify changes are no longer pushed automatically.
    cutoff_status: Annotated[PeoplevoxStatus, Strict(False)] = PeoplevoxStatus.ALLOCATED
    # Orders created longer ago than this are not sent automatically (a backfill must not ship
    # last year's orders).
    max_order_age_days: int = Field(default=30, ge=1)
    # Rows per SaveData call (headers and items are saved in separate calls).
    injection_batch_rows: int = Field(default=DEFAULT_SAVE_ROWS, ge=1, le=MAX_SAVE_ROWS)
    # A paid order not in Peoplevox after this long fails the stale-orders check.
    stale_order_minutes: int = Field(default=60, ge=1)
    sales_order_prefix: str = Field(default="SHP-", max_length=MAX_PREFIX_LENGTH, pattern=r"^[A-Za-z0-9_-]*$")

    def semantic_problems(self) -> list[SemanticProblem]:
        problems: list[SemanticProblem] = []
        if self.cutoff_status not in PROGRESS_STATUSES:
            allowed = ", ".join(status.value for status in PROGRESS_STATUSES)
            problems.append(
                SemanticProblem(
                    ("cutoff_status",),
                    f"{self.cutoff_status.value!r} is not a stage an order moves through; use one of {allowed}",
                )
            )
        if self.stale_order_minutes * 60 <= self.hold_window_seconds:
            problems.append(
                SemanticProblem(
                    ("stale_order_minutes",),
                    f"{self.stale_order_minutes} minutes is not longer than the hold window "
                    f"({self.hold_window_seconds} s): every held order would be reported stale",
                )
            )
        return problems
