"""Pooled parcels (bundle parts whose tracking rides on the fulfilment of the package completing the
bundle) in the rehearsal's drain and despatch figures, from a real ledger file written with the
ledger's own functions. Session 10's rehearsal never drained: its 415 pooled parcels, all carried,
had no fulfilment of their own, which is what the drain and the despatch latency waited for."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.ledger import Ledger, despatches, fulfilments, rehearsal
from sync_pipeline.rehearsal.report import despatch_timings

DESPATCHED = datetime(2026, 11, 27, 9)


def _parcel(con: duckdb.DuckDBPyConnection, number: str, order: str, state: str) -> None:
    despatches.upsert(con, [despatches.PackageRow(
        package_number=number, despatch_number=number.split("-")[0], sales_order_number=f"SO-{order}",
        shopify_order_id=f"gid://shopify/Order/{order}", despatched_at=DESPATCHED,
        despatch_date=DESPATCHED.date(), carrier="Royal Mail", service=None, site="PrimarySite",
        tracking_number=f"TRK-{number}", tracking_seen_at=DESPATCHED, items={"TEE-BLK-M": 1}, state=state,
        state_reason=None, line_quantities=None, first_seen_at=DESPATCHED, updated_at=DESPATCHED,
    )])  # fmt: skip


def _sent(con: duckdb.DuckDBPyConnection, number: str, order: str) -> None:
    intent = fulfilments.FulfilmentIntent(
        number, f"gid://shopify/Order/{order}", None, {}, {}, f"TRK-{number}", "Royal Mail", None, True
    )
    fulfilments.mark_sending(con, [intent], "run-1")


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Order 1: two pooled parts carried by the package completing the bundle, created in Shopify.
    Order 2: the carrier's send still in doubt. Order 3: Shopify refused the carrier. Order 4: a
    pooled part nothing carries yet."""
    ledger = Ledger(tmp_path / "ledger.duckdb")
    with ledger.transaction() as con:
        for number in ("DES1-1", "DES1-2"):
            _parcel(con, number, "1", states.POOLED)
        _parcel(con, "DES1-3", "1", states.FULFILLED)
        _sent(con, "DES1-3", "1")
        despatches.carry(con, [("DES1-1", "DES1-3", "TRK-DES1-1"), ("DES1-2", "DES1-3", "TRK-DES1-2")])
        fulfilments.mark_created(con, "DES1-3", "gid://shopify/Fulfillment/13", "#1001-F1", "TRK-DES1-3")
        for order in ("2", "3"):
            _parcel(con, f"DES{order}-1", order, states.POOLED)
            _parcel(con, f"DES{order}-2", order, states.FULFILLING)
            _sent(con, f"DES{order}-2", order)
            despatches.carry(con, [(f"DES{order}-1", f"DES{order}-2", f"TRK-DES{order}-1")])
        fulfilments.mark_failed(con, "DES3-2", "refused")
        _parcel(con, "DES4-1", "4", states.POOLED)
    return ledger


def _created_at(con: duckdb.DuckDBPyConnection, package: str) -> datetime:
    row = con.execute(
        "SELECT created_at FROM shopify_fulfilments WHERE package_number = ?", [package]
    ).fetchone()
    assert row is not None
    return row[0]


def test_a_pooled_parcel_is_fulfilled_at_its_carriers_time_only_once_the_carrier_is_created(
    ledger: Ledger,
) -> None:
    with ledger.transaction() as con:
        created = _created_at(con, "DES1-3")
        assert rehearsal.packages_fulfilled(con) == {
            "DES1-1": rehearsal.Fulfilled(created, "DES1-3"),
            "DES1-2": rehearsal.Fulfilled(created, "DES1-3"),
            "DES1-3": rehearsal.Fulfilled(created),
        }  # the carrier in doubt (order 2), refused (3), or none yet (4): not fulfilled, so the drain waits
        fulfilments.mark_created(con, "DES2-2", "gid://shopify/Fulfillment/22", "#1002-F1", "TRK-DES2-2")
        fulfilled = rehearsal.packages_fulfilled(con)
    assert fulfilled["DES2-1"] == rehearsal.Fulfilled(fulfilled["DES2-2"].at, "DES2-2")
    assert {"DES3-1", "DES3-2", "DES4-1"}.isdisjoint(fulfilled)


def test_despatch_figures_time_pooled_parcels_at_their_carrier_and_count_only_own_fulfilments(
    ledger: Ledger,
) -> None:
    with ledger.transaction() as con:
        fulfilled = rehearsal.packages_fulfilled(con)
        created = _created_at(con, "DES1-3")
    # As `collect.observe` keys the warehouse's packages: tracking number → (package, despatched at).
    despatched = created - timedelta(seconds=40)
    packages = {f"TRK-{n}": (n, despatched) for n in ("DES1-1", "DES1-2", "DES1-3", "DES3-1", "DES4-1")}
    latency, made, pooled = despatch_timings(packages, fulfilled)
    # Both parts at their carrier's time; DES3-1 and DES4-1 not fulfilled.
    assert sorted(latency) == [40.0, 40.0, 40.0]
    # One Shopify fulfilment made (rate, points per fulfilment), two parcels it carries.
    assert (made, pooled) == ([(despatched, created)], 2)
