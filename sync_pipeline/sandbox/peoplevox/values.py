"""Typed column values: parse what SaveData receives, format what GetData/GetReportData return.

Formats (API.md §5): imports take ``yyyy-MM-dd HH:mm:ss`` (a bare ``yyyy-MM-dd`` is accepted);
template exports use the same; reports use ``'dd/MM/yyyy HH:mm'`` wrapped in single quotes,
as the real reports do. Warehouse time is UTC. Booleans are ``True``/``False`` as .NET writes
them. A blank imported value clears the field (the real service overwrites with blanks too).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

IMPORT_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
TEMPLATE_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_DATE_FORMAT = "'%d/%m/%Y %H:%M'"


class ValueProblem(ValueError):
    pass


def parse_value(column: str, kind: type, raw: str) -> Any:
    if raw == "":
        return None
    if kind is str:
        return raw
    if kind is int:
        try:
            return int(raw.strip())
        except ValueError:
            raise ValueProblem(f"'{raw}' is not a valid whole number for {column}") from None
    if kind is Decimal:
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise ValueProblem(f"'{raw}' is not a valid number for {column}") from None
        if not value.is_finite():
            raise ValueProblem(f"'{raw}' is not a valid number for {column}")
        return value
    if kind is bool:
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes", "y"):
            return True
        if lowered in ("false", "0", "no", "n"):
            return False
        raise ValueProblem(f"'{raw}' is not a valid true/false value for {column}")
    if kind is datetime:
        for fmt in IMPORT_DATE_FORMATS:
            try:
                return datetime.strptime(raw.strip(), fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        raise ValueProblem(f"'{raw}' is not a valid date for {column}; expected yyyy-MM-dd HH:mm:ss")
    raise TypeError(kind)


def format_value(value: Any, report: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, datetime):
        return value.strftime(REPORT_DATE_FORMAT if report else TEMPLATE_DATE_FORMAT)
    return str(value)
