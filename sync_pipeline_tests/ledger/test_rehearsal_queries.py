"""The rehearsal's read-only ledger queries against a migrated ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.ledger import Ledger, fulfilments, injections, rehearsal
from sync_pipeline.lib.ledger import stock_pushes as pushes

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_stock_push_requests_and_unsettled_counts(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    loc = "gid://shopify/Location/1"
    with ledger.transaction() as con:
        assert rehearsal.unsettled_counts(con) == {"injections": 0, "fulfilments": 0, "stock_pushes": 0}
        assert rehearsal.order_timings(con) == [] and rehearsal.packages_fulfilled(con) == {}
        pushes.mark_sending_many(
            con,
            [("push-1", [pushes.PushIntent("SKU-1", "item-1", loc, 4, 9)]),
             ("push-2", [pushes.PushIntent("SKU-2", "item-2", loc, 1, 3)])],
            "run-1",
            NOW,
        )  # fmt: skip
        assert rehearsal.unsettled_counts(con)["stock_pushes"] == 2
        pushes.settle_request(con, "push-1", pushes.APPLIED, NOW)
        pushes.settle_request(con, "push-2", pushes.STALE, NOW, "moved")
        assert rehearsal.stock_push_requests(con) == {"push-1": True, "push-2": False}
        assert rehearsal.unsettled_counts(con)["stock_pushes"] == 0


def test_unsettled_counts_each_write_ahead_table_until_its_row_is_settled(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    parcel = fulfilments.FulfilmentIntent(
        "PKG-1", "gid://shopify/Order/1", None, {}, {}, "TRK-1", None, None, True
    )
    with ledger.transaction() as con:
        injections.mark_sending(con, [("SHP-1", "gid://shopify/Order/1", {}, [])], "run-1")
        fulfilments.mark_sending(con, [parcel], "run-1")
        assert rehearsal.unsettled_counts(con) == {"injections": 1, "fulfilments": 1, "stock_pushes": 0}
        injections.mark(con, "SHP-1", "accepted")
        fulfilments.mark_failed(con, "PKG-1", "refused")
        assert rehearsal.unsettled_counts(con) == {"injections": 0, "fulfilments": 0, "stock_pushes": 0}
