"""Returns from Peoplevox's `Return summary` report (one row per item of a processed return).

Assumptions (API.md §8: the report's name and the labels `Return code`, `Sales order number`,
`Item code`, `Quantity`, `Return reason`, `Return condition` are confirmed):
- `Return date` exists (minute precision, like the Despatch summary) and clauses filter on it:
  `[Return date] >= DateTime(…)`. A tenant without it fails the read loudly, never silently.
- `Return condition` holds the tenant's own grading (`finance.yaml: reusable_conditions` says
  which ones mean back on the shelf); the sandbox says `Reusable` or `Not reusable`.
- A return is final once reported: its rows never change, so rows are taken once per
  (return code, item code, condition). One return may hold an item graded two ways (two rows);
  the rows of one return are reported together, so rows of one key read at once are summed.
"""

from __future__ import annotations

from datetime import datetime

from sync_pipeline.lib.flows.finance.ports import ReturnedItem
from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.models import ReturnSummaryRow

DATE = "[Return date]"


class PeoplevoxReturns:
    """`ReturnSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient) -> None:
        self.client = client

    def returns_between(self, since: datetime, until: datetime | None = None) -> list[ReturnedItem]:
        clause = clauses.compare(DATE, ">=", since)
        if until is not None:
            clause = clauses.and_(clause, clauses.compare(DATE, "<", until))
        return [
            ReturnedItem(
                r.return_code,
                r.sales_order_number,
                r.item_code,
                r.quantity,
                r.return_reason,
                r.return_condition,
                r.return_date,
                r.site_reference,
            )
            for r in self.client.iter_models(ReturnSummaryRow, clause, order_by=f"{DATE} asc")
        ]
