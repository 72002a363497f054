"""Both sandboxes and the finance flow over them, with an oracle built from the sandboxes' own state.

`World` does what merchants, customers and the warehouse do (pay, edit, refund, despatch, return,
cancel), runs the finance flow as its assets do (despatches, Shopify money, Peoplevox returns,
reconciliation, exports), and checks every exported row against Shopify and Peoplevox: each figure
as Shopify states it in both currencies, each unit as Peoplevox counts it, each status as the
domain rules give it from those, and every day's summary tying out to Shopify to the penny.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.despatches.peoplevox_port import PeoplevoxDespatches
from sync_pipeline.lib.flows.despatches.read import read_despatches
from sync_pipeline.lib.flows.despatches.run import fulfil
from sync_pipeline.lib.flows.despatches.shopify_port import ShopifyStorefront
from sync_pipeline.lib.flows.finance.peoplevox_port import PeoplevoxReturns
from sync_pipeline.lib.flows.finance.read_money import read_money
from sync_pipeline.lib.flows.finance.read_returns import read_returns
from sync_pipeline.lib.flows.finance.reconcile import reconcile_days, summarise
from sync_pipeline.lib.flows.finance.shopify_port import ShopifyMoney
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.flows.orders.peoplevox_port import PeoplevoxWarehouse
from sync_pipeline.lib.flows.orders.release import release
from sync_pipeline.lib.flows.orders.shopify_port import ShopifyOrdersSource
from sync_pipeline.lib.ledger import Ledger, finance_exports
from sync_pipeline.lib.peoplevox import PeoplevoxClient, PeoplevoxError
from sync_pipeline.lib.shopify import ShopifyClient, ShopifyQueryError, ShopifyUserErrors
from sync_pipeline.sandbox.peoplevox.app import create_app as create_pvx_app
from sync_pipeline.sandbox.peoplevox.config import PeoplevoxSandboxConfig
from sync_pipeline.sandbox.peoplevox.control import ControlError, PeoplevoxControl
from sync_pipeline.sandbox.server import BackgroundServer
from sync_pipeline.sandbox.shopify.app import create_app as create_shopify_app
from sync_pipeline.sandbox.shopify.config import ShopifySandboxConfig
from sync_pipeline.sandbox.shopify.control import (
    CancelSpec,
    EditSpec,
    LineSpec,
    ProductSpec,
    QuantityChange,
    SandboxControl,
    SandboxControlError,
    VariantSpec,
)
from sync_pipeline.sandbox.traffic_money import (
    NothingToDo,
    Warehouse,
    refund_one_unit,
    return_one_unit,
    return_parcel,
)
from sync_pipeline_tests.kept_open import ledger_kept_open

REPO_ROOT = Path(__file__).resolve().parents[2]
CODES = ["TEE-BLK-M", "TEE-WHT-M", "SOCK-BLK-OS", "CAP-BLK-OS"]
RULES = load_business_rules(REPO_ROOT / "data" / "config").with_orders(hold_window_seconds=0)
NO_WAIT = RULES.model_copy(
    update={"despatches": RULES.despatches.model_copy(update={"tracking_wait_minutes": 0})}
)
SLA = RULES.finance.despatch_sla
# Exported amount columns (`_shop` in the shop's currency, bare in the customer's) and the sandbox's
# own figure each must equal.
FIGURES = (("subtotal", "subtotal"), ("discounts", "discounts"), ("shipping", "shipping"), ("tax", "tax"),
           ("total_price", "total"), ("current_total_price", "current_total"), ("received", "received"),
           ("refunded", "refunded"), ("net_payment", "net_payment"), ("outstanding", "outstanding"),
           ("capturable", "capturable"))  # fmt: skip


class World:
    def __init__(self, shop, pvx, client, pvx_client, ledger, exports, later) -> None:  # type: ignore[no-untyped-def]
        self.shop, self.pvx, self.client, self.ledger, self.exports = shop, pvx, client, ledger, exports
        self.pvx_client = pvx_client
        self.orders_source = ShopifyOrdersSource(client)
        self.warehouse = PeoplevoxWarehouse(pvx_client)
        self.despatches = PeoplevoxDespatches(pvx_client)
        self.returns_source = PeoplevoxReturns(pvx_client)
        self.money = ShopifyMoney(client)
        self.warehouse_floor = Warehouse(pvx, "SHP-")
        self.later = later  # how long after now the reconciliation is made: the SLA may have run out
        self.ids: list[str] = []

    def number(self, i: int) -> str:
        return f"SHP-{self.ids[i].rsplit('/', 1)[1]}"

    # -- what happens in Shopify and in the warehouse ----------------------------------------
    def pay(self, i: int, whole: bool) -> None:
        money = self.money_of(i)
        if money.display_financial_status == "AUTHORIZED":
            auth = next(t for t in money.transactions if t.kind == "AUTHORIZATION")
            left = money.total_capturable_set.presentment
            amount = left if whole else (left / 2).quantize(Decimal("0.01"))
            self.client.capture_payment(
                self.ids[i], auth.id, amount, money.presentment_currency_code, final=whole
            )
        elif money.display_financial_status == "PENDING" and money.cancelled_at is None:
            self.shop.mark_paid(self.ids[i])

    def edit(self, i: int, more: bool) -> None:
        """A line more, or a unit less of a line not yet fulfilled (Shopify edits only those)."""
        if more:
            spec = EditSpec(add_lines=[LineSpec(sku="SOCK-BLK-OS")])
        else:
            order = self.shop.get_order(self.ids[i])
            line = next((li for li in order["line_items"]
                         if li["current_quantity"] > li["fulfilled_quantity"]), None)  # fmt: skip
            if line is None:
                return
            change = QuantityChange(line_item_id=line["id"], quantity=line["current_quantity"] - 1)
            spec = EditSpec(set_quantities=[change])
        with contextlib.suppress(SandboxControlError):  # cancelled, or Shopify refuses the edit
            self.shop.edit_order(self.ids[i], spec)

    def release(self) -> None:
        now = datetime.now(UTC)
        ingest(
            self.orders_source,
            self.ledger,
            RULES,
            "test",
            now,
            window=(now - timedelta(hours=1), now + timedelta(minutes=1)),
        )
        release(self.orders_source, self.warehouse, self.ledger, RULES, "test", datetime.now(UTC))

    def despatch(self, i: int, short: bool) -> None:
        try:
            order = self.pvx.state().order(self.number(i))
        except StopIteration:
            return  # never reached the warehouse
        left = {line.item_code: line.quantity_ordered - line.despatched for line in order.lines}
        units = Counter({code: n for code, n in left.items() if n > 0})
        if order.status in ("Despatched", "Cancelled") or not units:
            return
        if short and sum(units.values()) > 1:
            units[next(iter(units))] -= 1
        with contextlib.suppress(ControlError):  # the warehouse refuses (e.g. cancelled meanwhile)
            self.pvx.despatch(self.number(i), [dict(+units)])

    def fulfil(self) -> None:
        read_despatches(self.despatches, self.ledger, "test", datetime.now(UTC), timedelta(days=1))
        fulfil(ShopifyStorefront(self.client), self.ledger, NO_WAIT, "test", max_seconds=30, settle_seconds=0)

    def refund(self, i: int, restock: str) -> None:
        # Nothing left to refund, or Shopify refuses (e.g. RETURN for a unit not fulfilled).
        with contextlib.suppress(NothingToDo, ShopifyUserErrors, ShopifyQueryError):
            refund_one_unit(self.client, self.ids[i], restock)

    def warehouse_return(self, i: int, reusable: bool) -> None:
        with contextlib.suppress(NothingToDo):  # nothing despatched that has not come back
            return_one_unit(
                self.warehouse_floor,
                self.ids[i],
                "Changed mind" if reusable else "Damaged",
                reusable=reusable,
            )

    def warehouse_parcel(self, i: int, first_reusable: bool) -> None:
        """Two units back in one parcel (one return code), graded apart."""
        with contextlib.suppress(NothingToDo):  # fewer than two despatched that have not come back
            return_parcel(self.warehouse_floor, self.ids[i], [first_reusable, not first_reusable])

    def warehouse_stray(self, i: int) -> None:
        """Someone keys an item the Shopify order does not have into our Peoplevox sales order; the
        warehouse ships it and it comes back: a return no line of the order is made of. (Only while
        the warehouse has not despatched the order: it refuses to ship a despatched one again.)"""
        skus = {li["sku"] for li in self.shop.get_order(self.ids[i])["line_items"]}
        # Never SOCK-BLK-OS: an edit may add it to the Shopify order (the item would then be ordered).
        code = next((c for c in ("TEE-WHT-M", "TEE-BLK-M", "CAP-BLK-OS") if c not in skus), None)
        number = self.number(i)
        try:
            if code is None or self.pvx.state().order(number).status == "Cancelled":
                return
        except StopIteration:
            return  # never reached the warehouse
        with contextlib.suppress(PeoplevoxError, ControlError):  # the warehouse refuses
            self.pvx_client.save_data(
                "Sales order items",
                [{"SalesOrderNumber": number, "ItemCode": code, "QuantityOrdered": 1, "Line": "99"}],
            )
            self.pvx.despatch(number, [{code: 1}])
            self.pvx.process_return(number, code, 1, "Not ours", reusable=True)

    def goodwill(self, i: int) -> None:
        """Money back without goods, an amount of the merchant's choosing in the customer's currency
        (Shopify converts it to the shop's)."""
        money = self.money_of(i)
        paid = [t for t in money.transactions if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS"]
        if not paid:
            return
        with contextlib.suppress(ShopifyUserErrors):  # nothing left on the payment to give back
            self.client.create_refund(
                self.ids[i], {}, [(paid[0].id, Decimal("1.03"), paid[0].gateway or "manual")]
            )

    def shopify_return(self, i: int, refunded: bool) -> None:
        fulfilled = self.client.fulfilled_lines(self.ids[i])
        if not fulfilled:
            return
        try:
            made = self.client.create_return(self.ids[i], {fulfilled[0].id: 1})
        except ShopifyUserErrors:
            return  # nothing left to return
        line = made.return_line_items[0]
        back = None
        if refunded:
            suggestion = self.client.suggest_refund(self.ids[i], {line.line_item_id or "": (1, "RETURN")})
            back = [(t.parent_transaction.id, t.amount_set.presentment, "GBP")
                    for t in suggestion.suggested_transactions if t.parent_transaction]  # fmt: skip
        self.client.process_return(made.id, {line.id: 1}, back)

    def cancel(self, i: int) -> None:
        with contextlib.suppress(SandboxControlError):  # fulfilled already, or cancelled
            self.shop.cancel_order(self.ids[i], CancelSpec())

    def money_of(self, i: int):  # type: ignore[no-untyped-def]
        return self.client.get_orders_money([self.ids[i]])[0]

    # -- the finance flow, then the oracle -------------------------------------------------
    def reconcile_and_check(self) -> None:
        self.check(*self.run())

    def run(
        self, between: Callable[[], object] | None = None, after_money: Callable[[], object] | None = None
    ) -> tuple[date, datetime]:
        """One pass of the finance flow as its assets run it; `between` happens after the despatch
        read and before the money read, `after_money` after the money read and before the
        reconciliation (something racing the run). Returns (today, as of)."""
        now = datetime.now(UTC)
        # The despatches flow reads packages as they ship (its sensor): finance starts from there.
        read_despatches(self.despatches, self.ledger, "test", now, timedelta(days=1))
        if between is not None:
            between()
        read_money(self.money, self.ledger, now, timedelta(days=1))
        if after_money is not None:
            after_money()
        self.returns_report = read_returns(self.returns_source, self.ledger, RULES, now, timedelta(days=1))
        today = now.date()
        as_of = now + self.later
        reconcile_days(
            self.ledger, self.exports, today - timedelta(days=1), today + timedelta(days=1), as_of, RULES
        )
        summarise(self.exports, today - timedelta(days=1), today + timedelta(days=1))
        return today, as_of

    def rows(self, today: date) -> dict[str, dict[str, Any]]:
        """The exported order rows of yesterday and today, by Shopify order id."""
        return {
            r["shopify_order_id"]: r for r in exported_rows(self.exports, [today - timedelta(days=1), today])
        }

    def check(self, today: date, as_of: datetime) -> None:
        days = [today - timedelta(days=1), today]
        rows = self.rows(today)
        assert set(rows) == set(self.ids), "every order placed is reconciled once"
        pvx = self.pvx.state()
        truth_by_day: Counter[tuple[date, str, str]] = Counter()
        for i, oid in enumerate(self.ids):
            order = self.shop.get_order(oid)
            money = order["money"]
            row = rows[oid]
            # Shopify's figures, as Shopify states them, in both currencies, to the penny.
            assert (row["shop_currency"], row["currency"]) == (
                order["currency"],
                order["presentment_currency"],
            )
            for column, key in FIGURES:
                for suffix, figures in (("_shop", money), ("", order["money_presentment"])):
                    stated = Decimal(figures[key])
                    assert row[column + suffix] == stated, (
                        oid,
                        column + suffix,
                        row[column + suffix],
                        stated,
                    )
            # Peoplevox's units (plain SKUs: a warehouse unit is a line unit).
            despatched = sum(sum(p.items.values()) for d in pvx.despatches if d.sales_order_number == self.number(i)
                             for p in d.packages)  # fmt: skip
            # An item no line of the order is (a line keyed into Peoplevox by hand) is counted apart.
            skus = {li["sku"] for li in order["line_items"] if li["requires_shipping"]}
            returns = [r for r in pvx.returns if r["sales_order_number"] == self.number(i)]
            returned = sum(r["quantity"] for r in returns if r["item_code"] in skus)
            reusable = sum(r["quantity"] for r in returns if r["reusable"] and r["item_code"] in skus)
            stray = sum(r["quantity"] for r in returns if r["item_code"] not in skus)
            assert (row["units_despatched"], row["units_returned"], row["units_returned_reusable"],
                    row["units_returned_unmatched"]) == (despatched, returned, reusable, stray), oid  # fmt: skip
            # Never more back on the shelf than came back, never more back than left the warehouse.
            assert row["units_returned_reusable"] <= row["units_returned"] <= row["units_despatched"], row
            figures = oracle_figures(order, despatched, returned, stray)
            assert row["status"] == rules.status(figures, as_of, SLA), (oid, row["status"], figures)
            assert row["units_to_despatch"] == rules.units_to_despatch(figures)
            day = (row["order_date"], row["currency"])
            truth_by_day[(*day, "orders")] += 1
            for key in ("total", "refunded"):  # Shopify's own figures, summed per day and currency
                truth_by_day[(*day, f"{key}_shop")] += Decimal(money[key])  # type: ignore[assignment]
                truth_by_day[(*day, key)] += Decimal(order["money_presentment"][key])  # type: ignore[assignment]
        # Every day's exported summary ties out: statuses hold all the orders and all of Shopify's revenue.
        for summary in finance_exports.read_daily_summaries(self.exports, days, rules.STATUSES):
            key = (summary["order_date"], summary["currency"])
            assert (
                summary["orders"]
                == truth_by_day[(*key, "orders")]
                == sum(summary[f"{s}_orders"] for s in rules.STATUSES)
            )
            assert summary["revenue_shop"] == truth_by_day[(*key, "total_shop")]
            assert summary["revenue"] == truth_by_day[(*key, "total")]
            assert summary["refunds_shop"] == truth_by_day[(*key, "refunded_shop")]
            assert summary["refunds"] == truth_by_day[(*key, "refunded")]
            assert summary["revenue_shop"] == sum(summary[f"{s}_value_shop"] for s in rules.STATUSES)
            assert summary["revenue"] == sum(summary[f"{s}_value"] for s in rules.STATUSES)


def oracle_figures(
    order: dict[str, Any], despatched: int, returned: int, stray: int = 0
) -> rules.OrderFigures:
    """An order's figures from Shopify's own state (the sandbox's snapshot), never the ledger."""
    shipping = {li["id"] for li in order["line_items"] if li["requires_shipping"]}
    refunded = Counter()
    for refund in order["refunds"]:
        for rl in refund["lines"]:
            if rl["line_item_id"] in shipping:
                refunded[rl["restock_type"]] += rl["quantity"]
    paid = [t["processed_at"] for t in order["transactions"]
            if t["kind"] in ("SALE", "CAPTURE", "AUTHORIZATION") and t["status"] == "SUCCESS"]  # fmt: skip
    if not paid and order["financial_status"] == "PAID":
        paid = [order["created_at"]]  # a free order: nothing to pay, paid as placed
    money = order["money"]
    return rules.OrderFigures(
        cancelled=order["cancelled_at"] is not None,
        units_current=sum(li["current_quantity"] for li in order["line_items"] if li["id"] in shipping),
        units_refunded_shipped=refunded["RETURN"] + refunded["NO_RESTOCK"],
        units_refunded_for_return=refunded["RETURN"],
        units_despatched=despatched,
        units_returned=returned,
        net_payment=Decimal(money["net_payment"]),
        current_total=Decimal(money["current_total"]),
        refund_discrepancy=Decimal(money["refund_discrepancy"]),
        capturable=Decimal(money["capturable"]),
        paid_at=datetime.fromisoformat(min(paid).replace("Z", "+00:00")) if paid else None,
        units_returned_unmatched=stray,
    )


def exported_rows(root: Path, days: list[date]) -> list[dict[str, Any]]:
    """Every exported order row of these days, as finance's Parquet files hold them."""
    return finance_exports.read_orders(root, days)


@contextlib.contextmanager
def world(
    root: Path, later: timedelta = timedelta(0), prices: dict[str, str] | None = None
) -> Iterator[World]:
    """Fresh Shopify and Peoplevox sandboxes with the catalogue (`CODES`, £10.00 unless `prices`
    says otherwise) and a `World` over them and a fresh ledger under `root`."""
    shopify_server = BackgroundServer(create_shopify_app(ShopifySandboxConfig(plan="plus"))).start()
    pvx_server = BackgroundServer(
        create_pvx_app(PeoplevoxSandboxConfig(requests_per_window=1000, window_seconds=1.0))
    ).start()
    shop = SandboxControl(shopify_server.url)
    pvx = PeoplevoxControl(pvx_server.url)
    client = ShopifyClient(shopify_server.url, "shpat_sandbox")
    pvx_client = PeoplevoxClient(pvx_server.url, "sandbox", "integration", "sandbox-password", 1000, 1.0)
    try:
        for code in CODES:
            price = (prices or {}).get(code, "10.00")
            shop.add_product(ProductSpec(title=code, variants=[VariantSpec(sku=code, price=price)]))
        pvx.seed_items([(c, f"50{i:011d}", c) for i, c in enumerate(CODES)])
        pvx.set_stock([(c, "PrimarySite", 1000) for c in CODES])
        # In-process only: the ledger's database stays open between its transactions (kept_open.py).
        with ledger_kept_open(root / "ledger.duckdb"):
            yield World(
                shop, pvx, client, pvx_client, Ledger(root / "ledger.duckdb"), root / "exports", later
            )
    finally:
        for closing in (shop, pvx, client, pvx_client):
            closing.close()
        pvx_server.stop()
        shopify_server.stop()
