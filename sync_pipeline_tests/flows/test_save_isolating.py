"""A request Peoplevox refuses whole is split until the offending row stands alone."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.flows.orders.ports import BatchRefusedError, RowResult, SaveOutcomeUnknownError
from sync_pipeline.lib.flows.orders.release.inject import save_isolating


class Peoplevox:
    def __init__(self, poison: set[str], lost: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.poison, self.lost, self.saved, self.calls = poison, lost, [], 0

    def save(self, rows: Sequence[str]) -> list[RowResult]:
        self.calls += 1
        if self.poison & set(rows):
            raise BatchRefusedError(f"fault: cannot read row {sorted(self.poison & set(rows))[0]}")
        if self.lost & set(rows):
            raise SaveOutcomeUnknownError("connection dropped")
        self.saved.extend(rows)
        return [RowResult(r, ok=True) for r in rows]


@given(st.integers(1, 100), st.sets(st.integers(0, 99), max_size=4))
def test_every_good_row_is_saved_and_every_poison_row_named(size: int, poison_at: set[int]) -> None:
    rows = [f"SO-{i}" for i in range(size)]
    poison = {rows[i] for i in poison_at if i < size}
    peoplevox = Peoplevox(poison)
    verdicts, unknown = save_isolating(peoplevox.save, rows, lambda r: r)
    assert unknown == set()
    assert sorted(peoplevox.saved) == sorted(set(rows) - poison)
    refused = {row: v.message for row, v in verdicts if not v.ok}
    assert set(refused) == poison
    assert all(row in message for row, message in refused.items())
    # Splitting costs about log2(size) calls per poison row, not one call per row.
    assert peoplevox.calls <= 1 + 2 * len(poison) * max(1, size.bit_length())


def test_unknown_outcomes_are_reported_not_resent() -> None:
    peoplevox = Peoplevox(poison={"SO-1"}, lost={"SO-3"})
    verdicts, unknown = save_isolating(peoplevox.save, ["SO-0", "SO-1", "SO-2", "SO-3"], lambda r: r)
    assert unknown == {"SO-2", "SO-3"}  # the half holding SO-3 went unanswered
    assert [(r, v.ok) for r, v in verdicts] == [("SO-0", True), ("SO-1", False)]
