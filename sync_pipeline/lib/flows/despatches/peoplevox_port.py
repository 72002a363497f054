"""Despatches from Peoplevox's `Despatch summary` report (one row per item per package).

Assumptions (API.md §8; the report's columns are confirmed, its exact behaviour is not):
- `Despatch number` shows the package number: `DES00042` for a one-package despatch,
  `DES00042-1`, `DES00042-2` for a multi-package one; the despatch is the number without the
  `-n` suffix.
- Every row of a package carries the package's tracking number (blank until the carrier's number
  arrives) and the despatch's date, written `'dd/MM/yyyy HH:mm'` (minute precision).
- Clauses name `[Column labels]`: `[Despatch date] >= DateTime(…)`, `[Despatch number].Equals("…")`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from sync_pipeline.lib.flows.despatches.ports import DespatchedPackage
from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.models import DespatchSummaryRow

LOOKUP_CHUNK = 100
_PACKAGE_SUFFIX = re.compile(r"-\d+$")
DATE = "[Despatch date]"
NUMBER = "Despatch number"


def despatch_of(package_number: str) -> str:
    return _PACKAGE_SUFFIX.sub("", package_number)


def packages(rows: Iterable[DespatchSummaryRow]) -> list[DespatchedPackage]:
    """Group report rows into packages, in the order first seen."""
    grouped: dict[str, list[DespatchSummaryRow]] = {}
    for row in rows:
        grouped.setdefault(row.despatch_number, []).append(row)
    found = []
    for number, group in grouped.items():
        first = group[0]
        items: dict[str, int] = {}
        for row in group:
            items[row.item_code] = items.get(row.item_code, 0) + row.number_of_items
        tracking = next((r.tracking_number for r in group if r.tracking_number), None)
        if first.despatch_date is None:
            raise ValueError(f"Despatch summary row for {number} has no despatch date")
        found.append(
            DespatchedPackage(
                package_number=number,
                despatch_number=despatch_of(number),
                sales_order_number=first.sales_order_number,
                despatched_at=first.despatch_date,
                carrier=first.carrier,
                service=first.service,
                site=first.site_reference,
                tracking_number=tracking,
                items=items,
            )
        )
    return found


class PeoplevoxDespatches:
    """`DespatchSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient) -> None:
        self.client = client

    def packages_between(self, since: datetime, until: datetime | None = None) -> list[DespatchedPackage]:
        clause = clauses.compare(DATE, ">=", since)
        if until is not None:
            clause = clauses.and_(clause, clauses.compare(DATE, "<", until))
        return packages(self.client.iter_models(DespatchSummaryRow, clause, order_by=f"{DATE} asc"))

    def packages_by_number(self, numbers: Sequence[str]) -> list[DespatchedPackage]:
        rows: list[DespatchSummaryRow] = []
        wanted = list(dict.fromkeys(numbers))
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            clause = clauses.or_(*(clauses.report_column_equals(NUMBER, n) for n in chunk))
            rows.extend(self.client.iter_models(DespatchSummaryRow, clause))
        return packages(rows)
