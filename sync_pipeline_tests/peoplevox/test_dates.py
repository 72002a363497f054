"""Peoplevox dates read without strptime in the usual shapes, and exactly as strptime read them.

The oracle is the reading before the fast path: each format tried in turn with strptime, then
ISO 8601. Whatever it returned or raised, the fast path must return or raise the same.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_pipeline.lib.peoplevox.models import _DATE_FORMATS, parse_pvx_datetime


def _oracle(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip().strip("'").strip()
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return datetime.fromisoformat(text)


def _outcome(parse: Any, value: Any) -> tuple[str, Any]:
    try:
        return "value", parse(value)
    except (ValueError, TypeError) as error:
        return "error", type(error)


DIGITS = st.sampled_from("0123456789")
# Mostly digits, sometimes what is near a digit: another digit system, a space, a sign, a letter.
NEAR = st.one_of(DIGITS, DIGITS, DIGITS, st.sampled_from(["٣", "０", " ", "-", "+", "x", "", "00"]))


def _field(width: int) -> st.SearchStrategy[str]:
    return st.lists(NEAR, min_size=width - 1, max_size=width + 1).map("".join)


REPORT_SHAPED = st.builds(
    lambda d, m, y, h, mi, q: f"{q}{d}/{m}/{y} {h}:{mi}{q}",
    _field(2), _field(2), _field(4), _field(2), _field(2), st.sampled_from(["", "'", " ' "]),
)  # fmt: skip
TEMPLATE_SHAPED = st.builds(
    lambda y, m, d, h, mi, s: f"{y}-{m}-{d} {h}:{mi}:{s}",
    _field(4), _field(2), _field(2), _field(2), _field(2), _field(2),
)  # fmt: skip


@settings(max_examples=600, deadline=None)
@given(st.one_of(REPORT_SHAPED, TEMPLATE_SHAPED, st.text(max_size=25)))
def test_any_text_reads_as_the_strptime_reading_did(text: str) -> None:
    assert _outcome(parse_pvx_datetime, text) == _outcome(_oracle, text)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)))
def test_every_real_moment_in_both_shapes_reads_back_to_the_minute_or_second(moment: datetime) -> None:
    report = f"'{moment:%d/%m}/{moment.year:04d} {moment:%H:%M}'"  # %Y does not pad years before 1000
    template = f"{moment.year:04d}-{moment:%m-%d %H:%M:%S}"
    assert (
        parse_pvx_datetime(report) == moment.replace(second=0, microsecond=0, tzinfo=UTC) == _oracle(report)
    )
    assert parse_pvx_datetime(template) == moment.replace(microsecond=0, tzinfo=UTC) == _oracle(template)


def test_impossible_dates_in_the_usual_shapes_go_the_old_way() -> None:
    for text in ("31/02/2026 10:00", "00/12/2026 10:00", "03/12/2026 24:00", "2026-13-01 10:00:00",
                 "2026-12-03 10:00:60", "03/12/0000 10:00"):  # fmt: skip
        assert _outcome(parse_pvx_datetime, text) == _outcome(_oracle, text) == ("error", ValueError)
    # Shapes strptime takes that the fast path does not: still read, by strptime.
    assert parse_pvx_datetime("3/12/2026 9:05") == datetime(2026, 12, 3, 9, 5, tzinfo=UTC)
    assert parse_pvx_datetime("03/12/2026") == datetime(2026, 12, 3, tzinfo=UTC)
