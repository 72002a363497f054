"""Returns from Peoplevox's `Return summary` report (one row per item of a processed return).

Assumptions (API.md §8: the report's name and the labels `Return code`, `Sales order number`,
`Item code`, `Quantity`, `Return reason`, `Return condition` are confirmed):
- `Return date` exists (minute precision, like the Despatch summary) and clauses filter on it:
  `[Return date] >= DateTime(…)`. A tenant without it fails the read loudly, never silently.
- `Return condition` holds the tenant's own grading (`finance.yaml: reusable_conditions` says
  which ones mean back on the shelf); the sandbox says `Reusable` or `Not reusable`.
- A read of the report gives the CURRENT rows of each return, and the warehouse may book more
  items under a return code after a read (a second tee of the parcel, graded the same: a second
  row, or the first row's quantity raised). Whether a later row carries its own date or the
  return's is not documented, so the stricter reading is taken: a date-filtered read may see only
  some of a return's rows. Every return code the date window names is therefore read again in full
  by `[Return code]` (`returns_by_code`), and the ledger replaces each (return code, item code,
  condition) figure with the sum of that full read's rows (`finance_units.put_returns`): a
  re-read changes nothing, a later row raises the figure, and a read that sees only the new row
  cannot halve it. A row added under a return dated before the cursor's overlap is not in any
  normal run's window: the month's finance backfill (which re-reads from the month's first day)
  counts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sync_pipeline.lib.flows.finance.ports import ReturnedItem
from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.models import ReturnSummaryRow

DATE = "[Return date]"
CODE = "Return code"
LOOKUP_CHUNK = 100  # return codes per report call (the clause grows with each)


class PeoplevoxReturns:
    """`ReturnSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient) -> None:
        self.client = client

    def returns_between(self, since: datetime, until: datetime | None = None) -> list[ReturnedItem]:
        clause = clauses.compare(DATE, ">=", since)
        if until is not None:
            clause = clauses.and_(clause, clauses.compare(DATE, "<", until))
        return self._read(clause, f"{DATE} asc")

    def returns_by_code(self, return_codes: Sequence[str]) -> list[ReturnedItem]:
        codes = list(dict.fromkeys(return_codes))
        rows: list[ReturnedItem] = []
        for start in range(0, len(codes), LOOKUP_CHUNK):
            chunk = codes[start : start + LOOKUP_CHUNK]
            rows += self._read(
                clauses.or_(*(clauses.report_column_equals(CODE, c) for c in chunk)), f"{DATE} asc"
            )
        return rows

    def _read(self, clause: str, order_by: str) -> list[ReturnedItem]:
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
            for r in self.client.iter_models(ReturnSummaryRow, clause, order_by=order_by)
        ]
