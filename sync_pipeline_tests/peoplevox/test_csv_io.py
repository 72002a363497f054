"""CSV helpers: exact round trips of hostile values (property test) and loud failures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.peoplevox.csv_io import CsvFormatError, read_csv, write_csv

HOSTILE = [
    "a, b",
    'say "hi"',
    "line1\nline2",
    "cr\rlf\r\n",
    "=SUM(A1)",
    "+44",
    "-3",
    "@home",
    "",
    "  pad  ",
    "é漢🙂",
]

cell = st.text()
header_name = st.text(min_size=1).filter(lambda s: s.strip() != "")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(header_name, min_size=1, max_size=5, unique=True).flatmap(
        lambda cols: st.tuples(
            st.just(cols), st.lists(st.fixed_dictionaries({c: cell for c in cols}), max_size=6)
        )
    )
)
def test_round_trip_is_exact(table: tuple[list[str], list[dict[str, str]]]) -> None:
    columns, rows = table
    assert read_csv(write_csv(columns, rows)) == rows


def test_hostile_values_survive() -> None:
    rows = [{"ItemCode": value, "Name": value[::-1]} for value in HOSTILE]
    text = write_csv(["ItemCode", "Name"], rows)
    assert read_csv(text) == rows
    assert '"a, b"' in text and '"say ""hi"""' in text
    assert "=SUM(A1)" in text  # no spreadsheet-style prefix: the SKU must stay the SKU


def test_rows_with_other_columns_are_refused() -> None:
    with pytest.raises(CsvFormatError):
        write_csv(["A", "B"], [{"A": "1"}])


@pytest.mark.parametrize(
    "text",
    [
        'A,B\r\n"unterminated,1\r\n',
        "A,B\r\n1,2,3\r\n",
        "A,B\r\n1\r\n",  # fewer values than the header: the client's own error, not zip's
        "A,A\r\n1,2\r\n",
    ],
)
def test_malformed_csv_is_an_error(text: str) -> None:
    with pytest.raises(CsvFormatError, match=r"record 1 has|unreadable|duplicate"):
        read_csv(text)
