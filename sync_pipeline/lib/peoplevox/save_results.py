"""What a SaveData answer says about each row: paired by position, or confirmed by a lookup.

Confirmed (API.md §4): ResponseId 0 is success; ResponseId -1 with TotalCount > 0 is a partial
save; TotalCount is the number of rows saved; a one-row success has Status "Success". Assumed:
`Statuses` holds one entry per CSV row in input order, its Reference echoes the row's key, and
Detail has a line `Row {n} ({reference}): {message}` per failed row.

The client pairs statuses with rows by position only when the answer has exactly that shape
and agrees with itself (as many statuses as rows, every reference names its row's key, the
successes add up to TotalCount, every failed row has its Detail line). Any other shape (a
different count, no references, another Detail format, no Statuses on a partial save) is
not trusted: each row is looked up by its template key instead, and judged by what
Peoplevox now holds. A save is never called unknown just because its answer looked odd.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_pipeline.lib.peoplevox import clauses
from sync_pipeline.lib.peoplevox.models import parse_pvx_datetime
from sync_pipeline.lib.peoplevox.soap import IntegrationResponse

_ROW_ERROR = re.compile(r"^Row (\d+)(?: \([^\n]*?\))?: (.*)$")
# Record keys of the templates we save (API.md §7); the lookup fallback needs them.
TEMPLATE_KEYS: dict[str, tuple[str, ...]] = {
    "sales orders": ("SalesOrderNumber",),
    "sales order items": ("SalesOrderNumber", "Line"),
    "item types": ("ItemCode",),
    "customers": ("Reference",),
}
DELETE_ACTION = 2
LOOKUP_CHUNK = 100
_TRUE, _FALSE = {"true", "1", "yes", "y"}, {"false", "0", "no", "n"}


@dataclass
class RowResult:
    record: Any
    reference: str
    ok: bool
    error: str | None = None


@dataclass
class SaveResult:
    template: str
    saved_count: int
    rows: list[RowResult]
    detail: str = ""
    # Why the answer was not paired by position and the rows were looked up instead ("" = paired).
    looked_up: str = ""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.rows if not r.ok]


def row_messages(detail: str) -> dict[int, str]:
    """Row number → message, from Detail lines in the expected `Row n (ref): message` form."""
    messages: dict[int, str] = {}
    for line in detail.splitlines():
        match = _ROW_ERROR.match(line.strip())
        if match:
            messages[int(match.group(1))] = match.group(2)
    return messages


def pair_by_position(
    template: str, records: Sequence[Any], rows: Sequence[Mapping[str, str]], response: IntegrationResponse
) -> SaveResult | str:
    """Row results when the answer has the expected shape, else why it does not."""
    statuses = response.statuses
    if (
        response.ok
        and response.total_count == len(records)
        and all(s.status == "Success" for s in statuses or [])
    ):
        # Success with every row counted as saved (both confirmed meanings): nothing to pair.
        references = [s.reference for s in statuses] if statuses and len(statuses) == len(records) else None
        return SaveResult(
            template,
            response.total_count,
            [RowResult(r, references[i] if references else "", True) for i, r in enumerate(records)],
        )
    if statuses is None:
        return "no Statuses"
    if len(statuses) != len(records):
        return f"{len(statuses)} statuses for {len(records)} rows"
    if any(s.status not in ("Success", "Error") for s in statuses):
        return "a status other than Success or Error"
    keys = TEMPLATE_KEYS.get(template.strip().lower())
    for row, status in zip(rows, statuses, strict=True):
        if not status.reference.strip():
            return "a status without a Reference"
        if keys and str(row.get(keys[0], "")) not in status.reference:
            return f"Reference '{status.reference}' does not name its row's {keys[0]}"
    saved = sum(s.status == "Success" for s in statuses)
    if saved != response.total_count or (saved == len(records)) != response.ok:
        return f"{saved} successes but TotalCount {response.total_count}, ResponseId {response.response_id}"
    messages = row_messages(response.detail)
    failed = {n for n, s in enumerate(statuses, start=1) if s.status == "Error"}
    if not failed <= set(messages):
        return "Detail not in the 'Row n (reference): message' form"
    results = [
        RowResult(record, status.reference, status.status == "Success", messages.get(number))
        for number, (record, status) in enumerate(zip(records, statuses, strict=True), start=1)
    ]
    return SaveResult(template, response.total_count, results, response.detail)


def confirm_by_lookup(
    template: str,
    records: Sequence[Any],
    rows: Sequence[Mapping[str, str]],
    response: IntegrationResponse,
    action: int,
    read: Callable[[str, str], Iterable[Mapping[str, str]]],
    why: str,
) -> SaveResult | None:
    """Judge each row by what Peoplevox holds now; None when the template's key is unknown.

    A row is saved when its record is there with every value we sent (compared as numbers,
    dates and booleans where they parse; columns the template does not export are skipped),
    or, for a delete, when it is gone. `read(template, clause)` yields template rows.
    """
    keys = TEMPLATE_KEYS.get(template.strip().lower())
    if keys is None or any(not row.get(k) for row in rows for k in keys):
        return None
    first = sorted({str(row[keys[0]]) for row in rows})
    held: dict[tuple[str, ...], Mapping[str, str]] = {}
    for start in range(0, len(first), LOOKUP_CHUNK):
        for found in read(template, clauses.any_of(keys[0], first[start : start + LOOKUP_CHUNK])):
            held[tuple(found.get(k, "") for k in keys)] = found
    results = []
    for number, (record, row) in enumerate(zip(records, rows, strict=True), start=1):
        key = tuple(str(row[k]) for k in keys)
        reference = "/".join(key)
        found = held.get(key)
        if action == DELETE_ACTION:
            ok, problem = found is None, "it is still in Peoplevox"
        elif found is None:
            ok, problem = False, "it is not in Peoplevox"
        else:
            differs = [c for c in row if c in found and not same_value(str(row[c]), found[c])]
            ok = not differs
            problem = "Peoplevox holds " + ", ".join(f"{c}={found[c]!r} (sent {row[c]!r})" for c in differs)
        error = None if ok else _message(number, key, response.detail, problem)
        results.append(RowResult(record, reference, ok, error))
    return SaveResult(template, response.total_count, results, response.detail, looked_up=why)


def _message(number: int, key: tuple[str, ...], detail: str, problem: str) -> str:
    """Peoplevox's own words for this row if Detail has them, else what the lookup found."""
    own = row_messages(detail).get(number)
    if own:
        return own
    lines = [line.strip() for line in detail.splitlines() if key[0] and key[0] in line]
    said = "; ".join(lines) or detail.strip()
    return f"{said} ({problem})" if said else f"not saved: {problem}"


def same_value(sent: str, held: str) -> bool:
    """Equal as Peoplevox would store it: text (case aside), numbers, dates or booleans."""
    # Quotes are stripped from both sides alike: Peoplevox may quote a value it exports, and we
    # send text that starts with one (`text.neutralise_formula`: "'- Flat 3"), which stripped on
    # one side only judged a saved row refused (review 10).
    a, b = (value.strip().strip("'").strip() for value in (sent, held))
    if a == b or a.casefold() == b.casefold():
        return True
    if not a or not b:
        return False
    if a.lower() in _TRUE | _FALSE and b.lower() in _TRUE | _FALSE:
        return (a.lower() in _TRUE) == (b.lower() in _TRUE)
    try:
        return Decimal(a) == Decimal(b)
    except InvalidOperation:
        pass
    try:
        return parse_pvx_datetime(a) == parse_pvx_datetime(b)
    except ValueError:
        return False
