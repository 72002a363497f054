"""Despatches from Peoplevox's `Despatch summary` report (one row per item per package).

Assumptions (API.md §8; the report's columns are confirmed, its exact behaviour is not):
- `Despatch number` shows the package number: `DES00042` for a one-package despatch,
  `DES00042-1`, `DES00042-2` for a multi-package one; the despatch is the number without the
  `-n` suffix.
- Every row of a package carries the package's tracking number (blank until the carrier's number
  arrives) and the despatch's date, written `'dd/MM/yyyy HH:mm'` (minute precision).
- A row may come without a despatch date (seen in no documentation, but the column is not marked
  required): such a package is held with an exception, never recorded with a guessed date.
- Clauses name `[Column labels]`: `[Despatch date] >= DateTime(…)`, `[Despatch number].Equals("…")`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from sync_pipeline.lib.flows.despatches.ports import DespatchedPackage, DespatchRead, HeldPackage
from sync_pipeline.lib.peoplevox import PeoplevoxClient, clauses
from sync_pipeline.lib.peoplevox.client import MAX_ITEMS_PER_PAGE
from sync_pipeline.lib.peoplevox.models import DespatchSummaryRow

LOOKUP_CHUNK = 100
_PACKAGE_SUFFIX = re.compile(r"-\d+$")
DATE = "[Despatch date]"
NUMBER = "Despatch number"
ORDER = "Salesorder number"
REPORT = DespatchSummaryRow.TEMPLATE


def despatch_of(package_number: str) -> str:
    return _PACKAGE_SUFFIX.sub("", package_number)


def _problem(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def packages(rows: Iterable[Mapping[str, str]]) -> DespatchRead:
    """Group report rows into packages, in the order first seen.

    A package with a row that does not read, or with no despatch date on any row, is held whole
    (`DespatchRead.held`, with what was wrong) and the rest go on: fulfilling part of a parcel
    would send a second shipping email for the rest.
    """
    grouped: dict[str, list[DespatchSummaryRow]] = {}
    problems: dict[str, list[str]] = {}
    orders: dict[str, str | None] = {}
    by_minute: dict[datetime, int] = {}
    # A row comes again when rows move on by one between two pages (a late commit dated before the
    # page boundary), and that same move skips the late row: counted twice, the repeat would make
    # the minute's count match Peoplevox's and the skipped row would never be read. Counted once
    # (two distinct rows alike in every column count as one: fewer than Peoplevox's, read again).
    counted: set[tuple[tuple[str, str], ...]] = set()
    for raw in rows:
        number = (raw.get(NUMBER) or "").strip()
        try:
            row = DespatchSummaryRow.model_validate(raw)
        except ValidationError as error:
            # Not counted in `rows_by_minute` (its date may not read): the next probe of its
            # minutes finds more rows than counted, and reads them again (the safe side).
            problems.setdefault(number, []).append(f"a row that does not read ({_problem(error)})")
            orders.setdefault(number, raw.get(ORDER) or None)
            grouped.setdefault(number, [])
            continue
        grouped.setdefault(number, []).append(row)
        orders.setdefault(number, row.sales_order_number)
        if row.despatch_date is not None and (key := tuple(sorted(raw.items()))) not in counted:
            counted.add(key)
            minute = row.despatch_date.astimezone(UTC).replace(second=0, microsecond=0)
            by_minute[minute] = by_minute.get(minute, 0) + 1
    read = DespatchRead([], rows_by_minute=by_minute)
    for number, group in grouped.items():
        dated = next((r.despatch_date for r in group if r.despatch_date is not None), None)
        if group and dated is None:
            problems.setdefault(number, []).append("no despatch date")
        if number in problems or dated is None:
            read.held.append(HeldPackage(number, orders.get(number), "; ".join(problems[number])))
            continue
        first = group[0]
        items: dict[str, int] = {}
        for row in group:
            items[row.item_code] = items.get(row.item_code, 0) + row.number_of_items
        read.packages.append(
            DespatchedPackage(
                package_number=number,
                despatch_number=despatch_of(number),
                sales_order_number=first.sales_order_number,
                despatched_at=dated,
                carrier=first.carrier,
                service=first.service,
                site=first.site_reference,
                # Spaces are no number (a label integration's blank): the package waits for the real one.
                tracking_number=next((t for r in group if (t := (r.tracking_number or "").strip())), None),
                items=items,
            )
        )
    return read


class PeoplevoxDespatches:
    """`DespatchSource` over the Peoplevox Integration Service."""

    def __init__(self, client: PeoplevoxClient, rows_per_page: int = MAX_ITEMS_PER_PAGE) -> None:
        self.client = client
        self.rows_per_page = rows_per_page

    def rows_between(self, since: datetime, until: datetime) -> int:
        # One row asked for, one column: the answer's TotalCount is what the window holds.
        clause = clauses.and_(clauses.compare(DATE, ">=", since), clauses.compare(DATE, "<", until))
        return self.client.get_report_data(REPORT, clause, (NUMBER,), items_per_page=1).total_count

    def packages_between(self, since: datetime, until: datetime | None = None) -> DespatchRead:
        clause = clauses.compare(DATE, ">=", since)
        if until is not None:
            clause = clauses.and_(clause, clauses.compare(DATE, "<", until))
        return packages(
            self.client.iter_report_data(
                REPORT, clause, order_by=f"{DATE} asc", items_per_page=self.rows_per_page
            )
        )

    def packages_by_number(self, numbers: Sequence[str]) -> DespatchRead:
        """Numbers no clause can carry (a backslash, a character XML cannot hold: `clauses`) are
        left out as unknown: they come from callbacks, which are only hints, and one such number
        used to fail the whole read, run after run (the inbox cursor moves only after a read)."""
        rows: list[dict[str, str]] = []
        wanted = [n for n in dict.fromkeys(numbers) if clauses.is_safe_string(n)]
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            clause = clauses.or_(*(clauses.report_column_equals(NUMBER, n) for n in chunk))
            rows.extend(self.client.iter_report_data(REPORT, clause, items_per_page=self.rows_per_page))
        return packages(rows)
