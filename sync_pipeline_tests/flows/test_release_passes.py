"""`release` without the network: orders Shopify no longer has are set aside, not retried forever."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline_tests.domain.factories import T0, make_order
from sync_pipeline_tests.flows.test_ingest import FakeShopify

RULES = load_business_rules(Path(__file__).resolve().parents[2] / "data" / "config")


class DeletedEverywhere(FakeShopify):
    """Answers the incremental read (its listing and the full read after it), then forgets every
    order (deleted in Shopify)."""

    deleted = False

    def order_versions(self, ids: Sequence[str]) -> dict[str, datetime]:
        return {}

    def orders_by_ids(self, ids: Sequence[str]) -> dict[str, ShopOrder]:
        return {} if self.deleted else super().orders_by_ids(ids)


class UntouchedWarehouse:
    def __getattr__(self, name: str) -> object:
        raise AssertionError(f"Peoplevox must not be called ({name})")


def test_orders_deleted_in_shopify_are_set_aside(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.duckdb")
    shop = DeletedEverywhere(make_order(id="gid://shopify/Order/7"))
    now = T0 + timedelta(hours=2)
    ingest(shop, ledger, RULES, "test", now)
    shop.deleted = True
    report = release(shop, UntouchedWarehouse(), ledger, RULES, "test", now, max_seconds=5)  # type: ignore[arg-type]
    assert report.not_for_warehouse == 1
    with ledger.transaction() as con:
        assert con.execute("SELECT state FROM orders").fetchall() == [(state.NOT_FOR_WAREHOUSE,)]
