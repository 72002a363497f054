"""Parse and evaluate the LINQ-style search and filter clauses (API.md §6).

Supported: ``Field.Equals(v)``, ``.Contains``, ``.StartsWith``, ``.EndsWith``, ``==`` ``=``
``!=`` ``<>`` ``<`` ``<=`` ``>`` ``>=``, ``AND``/``&&``, ``OR``/``||``, ``!``/``NOT``,
parentheses, string literals in double quotes (a quote inside is doubled, as in the classic
Dynamic LINQ tokenizer; single quotes work the same way), numbers, ``true``/``false`` and
``DateTime(y,M,d[,h,m,s])``. Templates name fields (case-insensitive); reports name columns
in square brackets.

Stricter than needed on purpose: anything outside this subset, an unknown field, or a
comparison between mismatched types (``Status.Equals(5)`` on a text column) is an error,
never a silent match-all. String comparison is ordinal and case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

Row = dict[str, Any]
Predicate = Callable[[Row], bool]


class ClauseError(ValueError):
    pass


@dataclass(frozen=True)
class _Token:
    kind: str  # str | num | ident | label | op | punct | end
    text: str
    value: Any = None
    pos: int = 0


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"]|"")*"|'(?:[^']|'')*')
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<label>\[[^\[\]]+\])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<>|<=|>=|&&|\|\||[=<>!])
  | (?P<punct>[().,\-])
    """,
    re.VERBOSE,
)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ClauseError(f"Syntax error at position {pos}: unexpected {text[pos]!r}")
        kind = match.lastgroup or ""
        chunk = match.group(0)
        if kind == "str":
            quote = chunk[0]
            tokens.append(_Token("str", chunk, chunk[1:-1].replace(quote * 2, quote), pos))
        elif kind == "num":
            tokens.append(_Token("num", chunk, Decimal(chunk) if "." in chunk else int(chunk), pos))
        elif kind == "label":
            tokens.append(_Token("label", chunk, chunk[1:-1].strip(), pos))
        elif kind != "ws":
            tokens.append(_Token(kind, chunk, chunk, pos))
        pos = match.end()
    tokens.append(_Token("end", "", None, len(text)))
    return tokens


_METHODS = {"equals", "contains", "startswith", "endswith"}
_COMPARE = {"==": "eq", "=": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@dataclass(frozen=True)
class Column:
    name: str
    type: type


class _Parser:
    def __init__(self, text: str, columns: dict[str, Column], bracketed: bool) -> None:
        self.tokens = _tokenize(text)
        self.i = 0
        self.columns = columns
        self.bracketed = bracketed

    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, text: str) -> None:
        if self.tok.text != text:
            raise ClauseError(f"Syntax error at position {self.tok.pos}: '{text}' expected")
        self.i += 1

    def keyword(self, *words: str) -> bool:
        return self.tok.kind == "ident" and self.tok.text.lower() in words

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.tok.kind != "end":
            raise ClauseError(f"Syntax error at position {self.tok.pos}: unexpected '{self.tok.text}'")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.keyword("or") or self.tok.text == "||":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and") or self.tok.text == "&&":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def unary(self) -> Predicate:
        if self.tok.text == "!" or self.keyword("not"):
            self.take()
            inner = self.unary()
            return lambda row: not inner(row)
        if self.tok.text == "(":
            self.take()
            inner = self.or_expr()
            self.expect(")")
            return inner
        return self.comparison()

    def field(self) -> Column:
        token = self.take()
        if self.bracketed and token.kind == "label":
            name = token.value
        elif not self.bracketed and token.kind == "ident":
            name = token.text
        else:
            what = "a [column label]" if self.bracketed else "a field name"
            raise ClauseError(f"Syntax error at position {token.pos}: {what} expected")
        column = self.columns.get(name.lower())
        if column is None:
            raise ClauseError(f"No property or field '{name}' exists")
        return column

    def literal(self) -> Any:
        token = self.take()
        if token.kind in ("str", "num"):
            return token.value
        if token.text == "-" and self.tok.kind == "num":
            return -self.take().value
        if token.kind == "ident" and token.text.lower() in ("true", "false"):
            return token.text.lower() == "true"
        if token.kind == "ident" and token.text == "DateTime":
            self.expect("(")
            parts = [self._int()]
            while self.tok.text == ",":
                self.take()
                parts.append(self._int())
            self.expect(")")
            if len(parts) not in (3, 6):
                raise ClauseError(
                    "DateTime takes (year, month, day) or (year, month, day, hour, minute, second)"
                )
            try:
                return datetime(*parts, tzinfo=UTC)
            except ValueError as exc:
                raise ClauseError(f"Invalid DateTime: {exc}") from None
        raise ClauseError(f"Syntax error at position {token.pos}: a literal expected")

    def _int(self) -> int:
        token = self.take()
        if token.kind != "num" or not isinstance(token.value, int):
            raise ClauseError(f"Syntax error at position {token.pos}: whole number expected")
        return token.value

    def comparison(self) -> Predicate:
        column = self.field()
        if self.tok.text == ".":
            self.take()
            method = self.take()
            if method.kind != "ident" or method.text.lower() not in _METHODS:
                raise ClauseError(f"No applicable method '{method.text}' exists")
            self.expect("(")
            value = self.literal()
            self.expect(")")
            name = method.text.lower()
            if name == "equals":
                return _compare(column, "eq", value)
            return _text_method(column, name, value)
        op = _COMPARE.get(self.tok.text)
        if op is None:
            raise ClauseError(
                f"Syntax error at position {self.tok.pos}: operator expected after '{column.name}'"
            )
        self.take()
        return _compare(column, op, self.literal())


def _check_type(column: Column, value: Any) -> Any:
    expected = column.type
    if expected in (int, Decimal) and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    if isinstance(value, expected) and not (expected is int and isinstance(value, bool)):
        return value
    raise ClauseError(
        f"Operator incompatible with operand types '{expected.__name__}' and '{type(value).__name__}' "
        f"for '{column.name}'"
    )


def _compare(column: Column, op: str, value: Any) -> Predicate:
    value = _check_type(column, value)
    if column.type is bool and op not in ("eq", "ne"):
        raise ClauseError(f"'{column.name}' can only be compared for equality")

    def predicate(row: Row) -> bool:
        actual = row.get(column.name)
        if actual is None or actual == "":
            actual = "" if column.type is str else None
        if op == "eq":
            return actual == value
        if op == "ne":
            return actual != value
        if actual is None:
            return False
        if op == "lt":
            return actual < value
        if op == "le":
            return actual <= value
        if op == "gt":
            return actual > value
        return actual >= value

    return predicate


def _text_method(column: Column, name: str, value: Any) -> Predicate:
    if column.type is not str or not isinstance(value, str):
        raise ClauseError(f"'{name}' needs a text field and a text argument ('{column.name}')")

    def predicate(row: Row) -> bool:
        actual = str(row.get(column.name) or "")
        if name == "contains":
            return value in actual
        if name == "startswith":
            return actual.startswith(value)
        return actual.endswith(value)

    return predicate


def compile_clause(text: str, columns: list[Column], bracketed: bool) -> Predicate:
    """A predicate over typed rows; an empty clause matches everything."""
    if not text.strip():
        return lambda _row: True
    return _Parser(text, {c.name.lower(): c for c in columns}, bracketed).parse()


def parse_order_by(text: str, columns: list[Column]) -> list[tuple[str, bool]]:
    """``[Col] asc, [Other] desc`` → [(column name, descending)]."""
    known = {c.name.lower(): c.name for c in columns}
    result: list[tuple[str, bool]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        match = re.fullmatch(r"\[([^\[\]]+)\](?:\s+(asc|desc|ascending|descending))?", part, re.IGNORECASE)
        if match is None or match.group(1).strip().lower() not in known:
            raise ClauseError(f"Invalid OrderBy term '{part}'")
        result.append(
            (known[match.group(1).strip().lower()], (match.group(2) or "asc").lower().startswith("d"))
        )
    return result
