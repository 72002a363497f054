"""Despatch summary rows → packages: a package that cannot be read whole is held whole."""

from __future__ import annotations

from sync_pipeline.lib.flows.despatches.peoplevox_port import packages


def _row(number: str, code: str, qty: str = "1", date: str = "30/11/2026 09:15") -> dict[str, str]:
    return {
        "Salesorder number": "SHP-1",
        "Despatch number": number,
        "Despatch date": date,
        "Carrier": "Royal Mail",
        "Service": "Tracked 24",
        "Tracking number": "",
        "Item code": code,
        "No of items": qty,
    }


def test_an_unreadable_row_holds_its_whole_package_and_names_the_column() -> None:
    read = packages(
        [_row("DES1-1", "TEE"), _row("DES1-1", "CAP", qty="two"), _row("DES1-2", "MUG"), _row("DES2", "CAP")]
    )
    assert [p.package_number for p in read.packages] == ["DES1-2", "DES2"]
    (held,) = read.held
    assert (held.package_number, held.sales_order_number) == ("DES1-1", "SHP-1")
    assert "No of items" in held.problem


def test_one_dated_row_dates_the_package_and_none_holds_it() -> None:
    read = packages([_row("DES3", "TEE", date=""), _row("DES3", "CAP"), _row("DES4", "MUG", date="")])
    ((package,), (held,)) = read.packages, read.held
    assert package.package_number == "DES3" and package.items == {"TEE": 1, "CAP": 1}
    assert package.despatched_at.hour == 9
    assert (held.package_number, held.problem) == ("DES4", "no despatch date")
