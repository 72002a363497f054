"""The rehearsal's read-only ledger queries against a migrated ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sync_pipeline.lib.ledger import Ledger, rehearsal
from sync_pipeline.lib.ledger import stock_pushes as pushes

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def test_stock_push_requests_and_in_doubt(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    loc = "gid://shopify/Location/1"
    with ledger.transaction() as con:
        assert rehearsal.in_doubt(con) == {"injections": 0, "fulfilments": 0, "stock_pushes": 0}
        assert rehearsal.order_timings(con) == [] and rehearsal.fulfilments_created(con) == {}
        pushes.mark_sending(con, "push-1", [pushes.PushIntent("SKU-1", "item-1", loc, 4, 9)], "run-1", NOW)
        pushes.mark_sending(con, "push-2", [pushes.PushIntent("SKU-2", "item-2", loc, 1, 3)], "run-1", NOW)
        assert rehearsal.in_doubt(con)["stock_pushes"] == 2
        pushes.settle_request(con, "push-1", pushes.APPLIED, NOW)
        pushes.settle_request(con, "push-2", pushes.STALE, NOW, "moved")
        assert rehearsal.stock_push_requests(con) == {"push-1": True, "push-2": False}
        assert rehearsal.in_doubt(con)["stock_pushes"] == 0
