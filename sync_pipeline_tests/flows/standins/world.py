"""Both stand-ins, a real DuckDB ledger and the real flow functions, on one virtual clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sync_pipeline.lib.domain.config import BusinessRules, load_business_rules
from sync_pipeline.lib.flows.orders import statuses
from sync_pipeline.lib.flows.orders.bodies import BODY_CURSOR, Clock, record_bodies
from sync_pipeline.lib.flows.orders.ingest import IngestReport, ingest, ingest_notified
from sync_pipeline.lib.flows.orders.release import ReleaseReport, release
from sync_pipeline.lib.inbox import Inbox
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import catalogue as ledger_catalogue
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.catalogue import ItemTypeRow
from sync_pipeline.lib.ledger.injections import Injection
from sync_pipeline.lib.ledger.orders import OrderRow
from sync_pipeline.lib.ledger.records import OpenException
from sync_pipeline_tests.flows.standins.peoplevox import InMemoryPeoplevox
from sync_pipeline_tests.flows.standins.shopify import InMemoryShopify

CONFIG = Path(__file__).resolve().parents[3] / "data" / "config"
ITEM_CODES = ("TEE-BLK-M", "TEE-WHT-M", "CAP-BLK-OS", "SOCK-BLK-OS", "TOTE-NAT-OS")
HOLD_SECONDS = 600


class World:
    def __init__(
        self,
        root: Path,
        start: datetime,
        item_codes: Sequence[str] = ITEM_CODES,
        hold_seconds: int = HOLD_SECONDS,
    ) -> None:
        self.inbox = Inbox(root / "inbox")
        self.shop = InMemoryShopify(start, self.inbox)
        self.pvx = InMemoryPeoplevox(item_codes, start, self.inbox)
        self.ledger = Ledger(root / "ledger.duckdb")
        self.rules: BusinessRules = load_business_rules(CONFIG).with_orders(hold_window_seconds=hold_seconds)
        self.know_item_types(*item_codes)

    @property
    def now(self) -> datetime:
        return self.shop.now

    def tick(self, seconds: float) -> None:
        self.shop.tick(seconds)

    def know_item_types(self, *codes: str) -> None:
        """The ledger's catalogue copy (the hourly refresh) lists these item codes."""
        with self.ledger.transaction() as con:
            ledger_catalogue.upsert_item_types(con, [ItemTypeRow(c, None, None) for c in codes])

    # -- the flow's runs -----------------------------------------------------------------
    def ingest(self) -> IngestReport:
        return ingest(self.shop, self.ledger, self.rules, "ingest", self.now)

    def ingest_notified(self) -> int:
        """As the ingest asset's live run works the inbox: the bodies first (no read), then a read
        by id of what they left; returns the orders read by id. The body step waits for young
        bodies on the world's clock: the world's time passes while it waits."""
        clock = Clock(monotonic=lambda: self.shop.now.timestamp(), sleep=self.tick)
        record_bodies(self.inbox, self.ledger, self.rules, "webhooks", self.now, clock=clock)
        until = self.ledger.get_cursor(BODY_CURSOR)
        return ingest_notified(
            self.inbox, self.shop, self.ledger, self.rules, "webhooks", self.now, until=until
        ).read

    def release(self) -> ReleaseReport:
        return release(self.shop, self.pvx, self.ledger, self.rules, "release", self.now, max_seconds=5)

    def statuses(self) -> statuses.StatusReport:
        report = statuses.StatusReport()
        statuses.read_statuses(self.inbox, self.pvx, self.ledger, "statuses", report, self.now)
        return report

    def release_due(self) -> ReleaseReport:
        """Ingest, let the hold window pass, release."""
        self.ingest()
        self.tick(self.rules.orders.hold_window_seconds + 1)
        return self.release()

    # -- what the ledger says ------------------------------------------------------------
    def row(self, oid: str) -> OrderRow:
        with self.ledger.transaction() as con:
            return ledger_orders.get_many(con, [oid])[oid]

    def injection(self, oid: str) -> Injection:
        number = self.row(oid).sales_order_number
        assert number is not None
        with self.ledger.transaction() as con:
            return ledger_injections.get_many(con, [number])[number]

    def recorded_items(self, oid: str) -> dict[str, int]:
        return {i["ItemCode"]: i["QuantityOrdered"] for i in self.injection(oid).items or []}

    def open_exceptions(self, oid: str) -> list[OpenException]:
        return [e for e in self.ledger.list_open_exceptions() if e.shopify_order_id == oid]

    def open_kinds(self, oid: str) -> list[str]:
        return sorted(e.kind for e in self.open_exceptions(oid))

    def number(self, oid: str) -> str:
        number = self.row(oid).sales_order_number
        assert number is not None
        return number

    def held(self, oid: str) -> tuple[str, dict[str, int]] | None:
        """(status, items) Peoplevox holds for the order, or None."""
        return self.pvx.holds().get(self.number(oid))
