"""Shopify search syntax for the `query:` argument: `field:value`, comparators, AND/OR/NOT.

Supported: terms joined by spaces or `AND` (both mean AND), `OR` (binds looser than AND), a
leading `-` or `NOT` to negate, values quoted with ' or ", and the comparators `:<`, `:<=`,
`:>`, `:>=`. Parentheses are not supported and make the query fail (stricter than Shopify).
Like Shopify, a term on a field the resource does not know is ignored and reported in
`extensions.search` rather than failing the query: a typo widens the result, so clients must
read the warning. Shopify's search syntax says date values must be quoted; an unquoted value
on a date field is ignored the same way, with an `invalid_value` warning. Bare words (no
field) are matched against a resource's default text.

`extensions.search` has Shopify's shape: one entry per searched connection,
`{path, query, parsed, warnings: [{field, message, code}]}`, where `parsed` is the query tree
(`{"and": […]}`, `{"or": […]}`, `{"not": …}`, or a term `{"field", "match_all" | "match_phrase" |
"range_gt" | "range_gte" | "range_lt" | "range_lte": value}`). The `parsed` key names beyond
`field`/`match_all`/`match_phrase`/`and` are assumed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError

_TOKEN = re.compile(r"""\s*(-?)([A-Za-z_.]+)?(:(?:<=|>=|<|>)?)?("[^"]*"|'[^']*'|[^\s()]+)?""")


@dataclass(frozen=True)
class Term:
    field: str | None
    op: str  # ":", ":<", ":<=", ":>", ":>="
    value: str
    negated: bool = False
    quoted: bool = False

    def parsed(self) -> dict[str, Any]:
        if self.op == ":":
            kind = "match_phrase" if self.quoted else "match_all"
        else:
            kind = {":<": "range_lt", ":<=": "range_lte", ":>": "range_gt", ":>=": "range_gte"}[self.op]
        node: dict[str, Any] = (
            {kind: self.value} if self.field is None else {"field": self.field, kind: self.value}
        )
        return {"not": node} if self.negated else node


class SearchSyntaxError(ValueError):
    pass


def parse(query: str | None) -> list[list[Term]]:
    """Disjunctive normal form: a list of OR groups, each a list of AND-ed terms."""
    if not query or not query.strip():
        return []
    if "(" in query or ")" in query:
        raise SearchSyntaxError("parentheses are not supported by the sandbox search parser")
    groups: list[list[Term]] = [[]]
    negate_next = False
    for raw in _split(query):
        upper = raw.upper()
        if upper == "AND":
            continue
        if upper == "OR":
            groups.append([])
            continue
        if upper == "NOT":
            negate_next = True
            continue
        match = _TOKEN.fullmatch(raw)
        if not match:
            raise SearchSyntaxError(f"cannot parse search term {raw!r}")
        minus, name, op, value = match.groups()
        if op is None:  # bare word: the "name" part is really the value
            value, name = (name or "") + (value or ""), None
            op = ":"
        raw_value = value or ""
        groups[-1].append(
            Term(name, op, _unquote(raw_value), bool(minus) or negate_next, _unquote(raw_value) != raw_value)
        )
        negate_next = False
    return [g for g in groups if g]


def _split(query: str) -> list[str]:
    tokens, current, quote = [], "", ""
    for ch in query:
        if quote:
            current += ch
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            current += ch
            quote = ch
        elif ch.isspace():
            if current:
                tokens.append(current)
            current = ""
        else:
            current += ch
    if quote:
        raise SearchSyntaxError("unterminated quote in search query")
    if current:
        tokens.append(current)
    return tokens


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def parse_time(value: str) -> datetime:
    text = value.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SearchSyntaxError(f"invalid date {value!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None:
        return False
    if op == ":":
        return bool(actual == wanted)
    return {
        ":<": actual < wanted,
        ":<=": actual <= wanted,
        ":>": actual > wanted,
        ":>=": actual >= wanted,
    }[op]


Matcher = Callable[[Any, Term], bool]


class DateMatcher:
    """A matcher on a date field: its values must be quoted (Shopify's search syntax)."""

    def __init__(self, get: Callable[[Any], datetime | None]) -> None:
        self.get = get

    def __call__(self, record: Any, term: Term) -> bool:
        return compare(self.get(record), term.op, parse_time(term.value))


class Filter:
    """Matches records against a parsed query using one matcher per supported field."""

    def __init__(self, query: str | None, fields: dict[str, Matcher], default: Matcher | None = None) -> None:
        self.groups = parse(query)
        self.fields = fields
        self.default = default
        self.warnings: list[dict[str, Any]] = []
        self._ignored: set[Term] = set()
        for group in self.groups:
            for term in group:
                warning = self._warning(term)
                if warning is not None:
                    self._ignored.add(term)
                    if warning not in self.warnings:
                        self.warnings.append(warning)

    def _warning(self, term: Term) -> dict[str, str] | None:
        if term.field is None:
            return None
        matcher = self.fields.get(term.field)
        if matcher is None:
            return {
                "field": term.field,
                "message": "Invalid search field for this query.",
                "code": "invalid_field",
            }
        if isinstance(matcher, DateMatcher) and not term.quoted:
            return {
                "field": term.field,
                "message": f"Input `{term.value}` is not an accepted value: date values must be quoted.",
                "code": "invalid_value",
            }
        return None

    @property
    def parsed(self) -> dict[str, Any]:
        """The query tree as Shopify reports it in `extensions.search[].parsed`."""
        ands = [g[0].parsed() if len(g) == 1 else {"and": [t.parsed() for t in g]} for g in self.groups]
        if not ands:
            return {}
        return ands[0] if len(ands) == 1 else {"or": ands}

    def matches(self, record: Any) -> bool:
        if not self.groups:
            return True
        return any(all(self._term(record, t) for t in group) for group in self.groups)

    def _term(self, record: Any, term: Term) -> bool:
        if term in self._ignored:
            return True  # ignored, as Shopify does; reported in warnings
        if term.field is None:
            result = self.default(record, term) if self.default else True
        else:
            result = self.fields[term.field](record, term)
        return result != term.negated


def time_field(get: Callable[[Any], datetime | None]) -> Matcher:
    return DateMatcher(get)


def text_field(get: Callable[[Any], str | None]) -> Matcher:
    def match(record: Any, term: Term) -> bool:
        actual = get(record)
        return actual is not None and actual.lower() == term.value.lower()

    return match


def id_field(get: Callable[[Any], int]) -> Matcher:
    def match(record: Any, term: Term) -> bool:
        raw = term.value.rsplit("/", 1)[-1]
        if not raw.isdigit():
            return False
        return compare(get(record), term.op, int(raw))

    return match


def search_filter(info: Any, query: str | None, fields: dict[str, Matcher]) -> Filter:
    """A connection's `query:` as a filter; ignored terms are reported in `extensions.search`."""
    try:
        flt = Filter(query, fields)
    except SearchSyntaxError as exc:
        raise GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"}) from exc
    if flt.warnings:
        info.context.setdefault("search", []).append(
            {
                "path": [str(p) for p in info.path.as_list()],
                "query": query,
                "parsed": flt.parsed,
                "warnings": flt.warnings,
            }
        )
    return flt
