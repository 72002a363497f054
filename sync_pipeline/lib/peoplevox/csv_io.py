"""CSV in and out of Peoplevox with RFC 4180 quoting.

Values are written exactly: commas, quotes, CR/LF, leading ``=+-@`` and any unicode survive
a round trip. Records end with CRLF. This layer does no spreadsheet-style escaping because it
carries SKUs and item codes, which a prefix would change; free text that reaches labels and
exports is made safe before it gets here, by `lib/domain/text.label_text` (formula starts
neutralised, bidi overrides and zero-width characters dropped).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

IMPORT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class CsvFormatError(ValueError):
    pass


def format_cell(value: object) -> str:
    """One value as Peoplevox imports it; datetimes go out in UTC as yyyy-MM-dd HH:mm:ss."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return moment.strftime(IMPORT_DATE_FORMAT)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CsvFormatError(f"{value} cannot be imported")
        return format(value, "f")
    return str(value)


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A header row then one record per row; every row must have exactly `columns`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        if set(row) != set(columns):
            raise CsvFormatError(f"row columns {sorted(row)} differ from the header {list(columns)}")
        writer.writerow([format_cell(row[c]) for c in columns])
    return buffer.getvalue()


def read_csv(text: str) -> list[dict[str, str]]:
    """Rows keyed by the header's names; blank lines are skipped; malformed CSV is an error."""
    try:
        records = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    except csv.Error as exc:
        raise CsvFormatError(f"unreadable CSV from Peoplevox: {exc}") from None
    if not records:
        return []
    header = records[0]
    if len(set(header)) != len(header):
        raise CsvFormatError(f"duplicate column names in {header}")
    rows = []
    for number, record in enumerate(records[1:], start=1):
        if len(record) != len(header):
            raise CsvFormatError(f"record {number} has {len(record)} values; the header has {len(header)}")
        rows.append(dict(zip(header, record, strict=True)))
    return rows


def read_header(text: str) -> list[str]:
    """The column names of a one-line CSV answer (GetSaveTemplate, GetReportColumns)."""
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), strict=True) if r]
    return rows[0] if rows else []
