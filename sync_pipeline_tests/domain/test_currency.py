"""Currency decimals (ISO 4217 minor units): what the finance files show each amount with."""

from __future__ import annotations

import pytest

from sync_pipeline.lib.domain.currency import LEDGER_DECIMALS, NO_DECIMALS, THREE_DECIMALS, minor_units


@pytest.mark.parametrize(
    ("currency", "decimals"),
    [("KWD", 3), ("bhd", 3), ("JOD", 3), ("OMR", 3), ("TND", 3), ("IQD", 3), ("LYD", 3),
     ("JPY", 0), ("KRW", 0), ("ISK", 0), ("CLP", 0), ("VND", 0),
     ("EUR", 2), ("GBP", 2), ("USD", 2), (" chf ", 2)],
)  # fmt: skip
def test_each_currency_has_its_iso_decimals(currency: str, decimals: int) -> None:
    assert minor_units(currency) == decimals


def test_the_ledger_holds_every_currencys_decimals() -> None:
    assert not THREE_DECIMALS & NO_DECIMALS
    assert max(minor_units(c) for c in THREE_DECIMALS | NO_DECIMALS | {"EUR"}) == LEDGER_DECIMALS
