r"""Build search and filter clauses (API.md §6) with every value quoted.

Values become literals only: a string is wrapped in double quotes with inner quotes doubled
(the Dynamic LINQ convention), so a SKU such as ``X") OR ("1"=="1`` stays one string. Field
names must be plain identifiers and report labels may not contain brackets; anything else is
a `ValueError` rather than a clause that could mean something else. `any_of` with no values
is an error too, because the empty OR would otherwise be read as "match everything".

Backslashes are refused, not escaped (`UnsafeClauseValue`). Peoplevox does not document how
its parser reads `\` inside a string: Dynamic LINQ parsers commonly treat it as an escape, so
a SKU ending in `\` would swallow our closing quote and let the rest of the clause be read as
code. Escaping it as `\\` is wrong the other way: if the parser takes `\` literally, the
lookup silently asks for a different value, and a missed lookup can mean a second injection.
Refusing is right under both readings; the caller treats the value as one it cannot look up.
Characters XML 1.0 cannot carry (controls other than tab/CR/LF, U+FFFE/U+FFFF, lone
surrogates) are refused for the same reason: the clause travels inside a SOAP body.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal

Literal = str | int | Decimal | datetime | date | bool

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LABEL = re.compile(r"\[[^\[\]\r\n]+\]")
# Characters outside XML 1.0's Char production, which no SOAP request can carry.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class UnsafeClauseValue(ValueError):
    """A value that cannot be put into a clause without changing what the clause means."""


def check_string(value: str) -> str:
    """`value` unchanged if it can be a clause string literal; `UnsafeClauseValue` naming why not."""
    if "\\" in value:
        raise UnsafeClauseValue(f"{value!r} contains a backslash, which Peoplevox may read as an escape")
    bad = _NOT_XML.search(value)
    if bad:
        raise UnsafeClauseValue(f"{value!r} contains U+{ord(bad.group()):04X}, which XML cannot carry")
    return value


def is_safe_string(value: str) -> bool:
    try:
        check_string(value)
    except UnsafeClauseValue:
        return False
    return True


def literal(value: Literal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + check_string(value).replace('"', '""') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be used in a clause")
        return format(value, "f")
    if isinstance(value, datetime):
        moment = value.astimezone(UTC) if value.tzinfo else value
        return "DateTime({:04d},{:02d},{:02d},{:02d},{:02d},{:02d})".format(*moment.timetuple()[:6])
    if isinstance(value, date):
        return f"DateTime({value.year:04d},{value.month:02d},{value.day:02d})"
    raise TypeError(f"cannot use {type(value).__name__} in a clause")


def target(name: str) -> str:
    """A template field (``ItemCode``) or a report label (``[Site reference]``), validated."""
    if _FIELD.fullmatch(name) or _LABEL.fullmatch(name):
        return name
    raise ValueError(f"{name!r} is neither a field name nor a [report label]")


def label(text: str) -> str:
    return target(f"[{text}]")


def field_equals(field: str, value: Literal) -> str:
    return f"{target(field)}.Equals({literal(value)})"


def field_not_equals(field: str, value: Literal) -> str:
    return f"{target(field)} != {literal(value)}"


def contains(field: str, value: str) -> str:
    return f"{target(field)}.Contains({literal(value)})"


def starts_with(field: str, value: str) -> str:
    return f"{target(field)}.StartsWith({literal(value)})"


def compare(field: str, op: str, value: Literal) -> str:
    if op not in ("==", "!=", "<", "<=", ">", ">="):
        raise ValueError(f"unsupported operator {op!r}")
    return f"{target(field)} {op} {literal(value)}"


def date_at_least(field: str, moment: datetime | date) -> str:
    return compare(field, ">=", moment)


def date_before(field: str, moment: datetime | date) -> str:
    return compare(field, "<", moment)


def report_column_equals(column_label: str, value: Literal) -> str:
    return f"{label(column_label)}.Equals({literal(value)})"


def and_(*clauses: str) -> str:
    return _join(" AND ", clauses)


def or_(*clauses: str) -> str:
    return _join(" OR ", clauses)


def not_(clause: str) -> str:
    return f"!({clause})"


def any_of(field: str, values: Iterable[Literal]) -> str:
    terms = [field_equals(field, v) for v in values]
    if not terms:
        raise ValueError("any_of needs at least one value (an empty clause would match everything)")
    return or_(*terms)


def _join(word: str, clauses: Iterable[str]) -> str:
    parts = [c for c in clauses]
    if not parts or any(not c.strip() for c in parts):
        raise ValueError("cannot combine empty clauses")
    if len(parts) == 1:
        return parts[0]
    return "(" + word.join(f"({c})" for c in parts) + ")"
