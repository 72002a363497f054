"""Clause builder: values are always quoted literals; the sandbox's parser agrees and rejects the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxError, clauses
from sync_pipeline.sandbox.peoplevox.clause_parser import ClauseError, Column, compile_clause
from sync_pipeline_tests.peoplevox.conftest import Sandbox

COLUMNS = [Column("ItemCode", str), Column("Qty", int), Column("When", datetime)]
INJECTIONS = ['X") OR ("1"=="1', 'X" OR ItemCode != "', "a'b", "[Item code]", "))||((", "new\nline"]
# Refused outright: a backslash (an escape to many LINQ parsers) and what XML cannot carry.
UNSAFE = ["ABC-1\\", '\\" OR 1==1 OR "', "SKU\x01", "LINE\uffff", "X\ud800"]


def test_builder_output() -> None:
    assert clauses.field_equals("SalesOrderNumber", "1001") == 'SalesOrderNumber.Equals("1001")'
    assert clauses.field_equals("ItemCode", 'a"b') == 'ItemCode.Equals("a""b")'
    assert clauses.field_equals("Status", 5) == "Status.Equals(5)"
    assert (
        clauses.report_column_equals("Site reference", "PrimarySite")
        == '[Site reference].Equals("PrimarySite")'
    )
    moment = datetime(2026, 10, 1, 7, 5, 9, tzinfo=UTC)
    assert (
        clauses.date_at_least("[Despatch date]", moment) == "[Despatch date] >= DateTime(2026,10,01,07,05,09)"
    )
    assert clauses.any_of("ItemCode", ["A", "B"]) == '((ItemCode.Equals("A")) OR (ItemCode.Equals("B")))'
    assert clauses.and_("A == 1", "B == 2") == "((A == 1) AND (B == 2))"
    assert clauses.literal(Decimal("1.50")) == "1.50"


@pytest.mark.parametrize("bad", ["Item Code", "x.y", "a)", "[a]b]", ""])
def test_bad_field_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        clauses.field_equals(bad, "v")


def test_empty_any_of_is_refused() -> None:
    with pytest.raises(ValueError):
        clauses.any_of("ItemCode", [])


@pytest.mark.parametrize("value", UNSAFE)
def test_values_that_could_change_the_clause_are_refused(value: str) -> None:
    with pytest.raises(clauses.UnsafeClauseValue):
        clauses.field_equals("ItemCode", value)
    with pytest.raises(clauses.UnsafeClauseValue):
        clauses.any_of("ItemCode", ["SAFE", value])
    assert not clauses.is_safe_string(value)


@settings(max_examples=300, deadline=None)
@given(st.text().filter(clauses.is_safe_string), st.text())
def test_quoted_value_matches_only_itself(value: str, other: str) -> None:
    predicate = compile_clause(clauses.field_equals("ItemCode", value), COLUMNS, bracketed=False)
    assert predicate({"ItemCode": value})
    assert predicate({"ItemCode": other}) == (other == value)


@pytest.mark.parametrize(
    "text",
    [
        "ItemCode.Equals(",
        "ItemCode ~ 1",
        "Unknown == 1",
        'ItemCode.Equals("a") OR',
        'Qty.Equals("5")',
        'ItemCode.Matches("x")',
        "1 == 1",
        "[ItemCode] == 1",
        'ItemCode == "a"; DROP',
    ],
)
def test_parser_rejects_what_it_does_not_support(text: str) -> None:
    with pytest.raises(ClauseError):
        compile_clause(text, COLUMNS, bracketed=False)


def test_parser_semantics() -> None:
    rows = [
        {"ItemCode": "EXD-1", "Qty": 3, "When": datetime(2026, 1, 2, tzinfo=UTC)},
        {"ItemCode": "ABC-2", "Qty": 10, "When": datetime(2026, 3, 1, tzinfo=UTC)},
    ]

    def match(text: str) -> list[str]:
        predicate = compile_clause(text, COLUMNS, bracketed=False)
        return [r["ItemCode"] for r in rows if predicate(r)]

    assert match('ItemCode.StartsWith("EXD-")') == ["EXD-1"]
    assert match('!ItemCode.Contains("XD") AND Qty > 5') == ["ABC-2"]
    assert match("(Qty < 5 OR Qty >= 10) && When >= DateTime(2026,02,01)") == ["ABC-2"]
    assert match("itemcode == 'EXD-1'") == ["EXD-1"]


def test_hostile_values_over_http(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    sandbox.control.seed_items([(sku, f"B{i}", "hostile") for i, sku in enumerate(INJECTIONS)])
    for sku in INJECTIONS:
        rows = client.get_data("Item types", clauses.field_equals("ItemCode", sku)).rows
        assert [r["ItemCode"] for r in rows] == [sku]
    found = list(client.iter_data("Item types", clauses.any_of("ItemCode", INJECTIONS[:3])))
    assert sorted(r["ItemCode"] for r in found) == sorted(INJECTIONS[:3])


def test_item_code_lookup_leaves_out_codes_it_cannot_quote(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    """A SKU ending in a backslash (or holding U+0001) is simply not found; the others still are."""
    sandbox.control.seed_items([("GOOD-1", "1", "good"), ("ABC-1", "2", "abc")])
    found = PeoplevoxWarehouse(client).existing_item_codes(["GOOD-1", *UNSAFE])
    assert found == {"GOOD-1"}


def test_unsupported_clause_is_an_error_not_match_all(sandbox: Sandbox, client: PeoplevoxClient) -> None:
    sandbox.control.seed_items([("A", "1", "a"), ("B", "2", "b")])
    with pytest.raises(PeoplevoxError, match="search clause"):
        client.get_data("Item types", "ItemCode LIKE '%'")
    with pytest.raises(PeoplevoxError):
        client.get_report_data("Item inventory summary", 'ItemCode == "A"')
