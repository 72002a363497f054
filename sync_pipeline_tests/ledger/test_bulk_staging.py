"""Rows staged for a bulk statement read back the same whichever way they went in: as typed lists
(up to `SMALL_ROWS` rows of plain values, the fulfil wave's size: pandas cost ~3 times as much
there, session 11) or as a pandas frame (past it, or a value the lists do not take)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from sync_pipeline.lib.ledger import Ledger, bulk
from sync_pipeline.lib.ledger.bulk import BIGINT, BOOL, INT, TEXT, TIME, staged

COLUMNS = {"n": TEXT, "qty": INT, "big": BIGINT, "notify": BOOL, "at": TIME}
LONDON_SUMMER = timezone(timedelta(hours=1))
ROWS: list[tuple[Any, ...]] = [
    ("P-1", 3, 2**40, True, datetime(2026, 7, 1, 9, 30, tzinfo=LONDON_SUMMER)),
    ("P-2", None, None, None, None),
    (None, -1, 0, False, datetime(2026, 12, 1, 5, 0)),  # naive: already UTC
    ("it's", 0, 1, True, datetime(2026, 12, 1, 5, 0, tzinfo=UTC)),
]
READ = 'SELECT n, qty, big, notify, "at", typeof(qty), typeof(big), typeof("at") FROM rows_in ORDER BY big NULLS FIRST'


def _read_back(ledger: Ledger, rows: list[tuple[Any, ...]], columns: dict[str, str] = COLUMNS) -> list[Any]:
    with ledger.transaction() as con, staged(con, "rows_in", columns, rows):
        return con.execute(READ if columns is COLUMNS else "SELECT * FROM rows_in").fetchall()


def test_lists_and_frames_stage_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    as_lists = _read_back(ledger, ROWS)
    monkeypatch.setattr(bulk, "SMALL_ROWS", -1)  # every staging goes the pandas way
    as_frame = _read_back(ledger, ROWS)
    assert as_lists == as_frame
    assert as_lists[0] == (
        "P-2", None, None, None, None, "INTEGER", "BIGINT", "TIMESTAMP"
    ) and as_lists[-1][4] == datetime(2026, 7, 1, 8, 30)  # fmt: skip
    assert _read_back(ledger, []) == []


def test_lists_take_no_value_pandas_would_convert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    went: list[str] = []
    as_lists = bulk._as_lists
    monkeypatch.setattr(bulk, "_as_lists", lambda *a: went.append("lists") or as_lists(*a))
    assert _read_back(ledger, [("P-1", 1)], {"n": TEXT, "qty": INT}) == [("P-1", 1)]
    # A Decimal in a TEXT column, a bool in an integer one: pandas takes them as it always did
    # (DuckDB reads an object column's Decimal as a DECIMAL; the lists would refuse it as VARCHAR).
    assert _read_back(ledger, [(Decimal("1.50"), 1)], {"n": TEXT, "qty": INT}) == [(Decimal("1.50"), 1)]
    assert _read_back(ledger, [("P-1", True)], {"n": TEXT, "qty": INT}) == [("P-1", 1)]
    assert went == ["lists"]


def test_a_failed_statement_on_staged_rows_raises_its_own_error(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with (
        pytest.raises(duckdb.ConversionException),
        ledger.transaction() as con,
        staged(con, "rows_in", {"n": TEXT}, [("not a number",)]),
    ):
        con.execute("SELECT n::INTEGER FROM rows_in").fetchall()
    assert ledger.get_cursor("anything") is None  # the file opens again
