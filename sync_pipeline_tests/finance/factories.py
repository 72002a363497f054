"""Ledgers for finance tests: generated orders written through the real ledger functions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from sync_pipeline.lib.domain import reconciliation as rules
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.ledger import Ledger, finance_orders, finance_units
from sync_pipeline.lib.ledger import despatches as ledger_despatches
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.despatches import PackageRow
from sync_pipeline.lib.ledger.finance_orders import (
    Amount,
    FinanceLineRow,
    FinanceOrderRow,
    FinanceOrderSet,
    RefundLineRow,
    RefundRow,
)
from sync_pipeline_tests.ledger.test_orders_ledger import row as order_row

DAY = date(2026, 10, 1)
AS_OF = datetime(2026, 10, 6, 12, 0, tzinfo=UTC)
SLA = timedelta(hours=48)
SKUS = ("TEE-S", "TEE-M", "MUG")
PRICES = (Decimal("0.00"), Decimal("9.99"), Decimal("25.00"))
MONEY = (Decimal("0.00"), Decimal("0.01"), Decimal("30.00"))


def amount(value: Decimal, rate: Decimal = Decimal("1")) -> Amount:
    return Amount(value, (value * rate).quantize(Decimal("0.01")))


@dataclass
class Line:
    sku: str
    quantity: int
    removed: int
    ships: bool
    price: Decimal
    refunds: list[tuple[str, int]]  # (restock type, units)

    @property
    def current(self) -> int:
        return self.quantity - self.removed - sum(q for _, q in self.refunds)


@dataclass
class Generated:
    number: int
    day: date
    currency: str
    cancelled: bool
    lines: list[Line]
    settled: list[dict[int, int]]  # packages as {line index: units}
    waiting: list[dict[str, int]]  # packages not settled yet as {sku: units}
    returns: list[dict[int, int]]  # returns as {line index: units}
    received: Decimal
    refunded: Decimal
    outstanding: Decimal
    capturable: Decimal
    paid_hours_ago: int | None
    total: Decimal = field(default=Decimal("0.00"))
    refund_discrepancy: Decimal = field(default=Decimal("0.00"))  # negative: goodwill given back
    # Returned item units no line of the order is made of, as {return code: {item code: units}}.
    returned_elsewhere: dict[str, dict[str, int]] = field(default_factory=dict)
    customer: str = "=cmd|' /C calc'!A0"  # a spreadsheet must show it, never run it
    note: str | None = None

    @property
    def gid(self) -> str:
        return f"gid://shopify/Order/{self.number}"

    def line_gid(self, index: int) -> str:
        return f"gid://shopify/LineItem/{self.number * 10 + index}"


@st.composite
def lines(draw: st.DrawFn) -> Line:
    quantity = draw(st.integers(1, 4))
    removed = draw(st.integers(0, quantity))
    refunds, left = [], quantity - removed
    for restock in draw(st.lists(st.sampled_from(["RETURN", "CANCEL", "NO_RESTOCK"]), max_size=2)):
        units = draw(st.integers(0, left))
        if units:
            refunds.append((restock, units))
            left -= units
    return Line(draw(st.sampled_from(SKUS)), quantity, removed, draw(st.booleans() | st.just(True)),
                draw(st.sampled_from(PRICES)), refunds)  # fmt: skip


@st.composite
def orders(draw: st.DrawFn, number: int) -> Generated:
    order_lines = draw(st.lists(lines(), min_size=1, max_size=3))
    n = len(order_lines)
    package = st.dictionaries(st.integers(0, n - 1), st.integers(1, 4), min_size=1, max_size=n)
    received = draw(st.sampled_from(MONEY))
    return Generated(
        number=number,
        day=draw(st.sampled_from([DAY, DAY + timedelta(days=1)])),
        currency=draw(st.sampled_from(["GBP", "EUR"])),
        cancelled=draw(st.booleans()),
        lines=order_lines,
        settled=draw(st.lists(package, max_size=2)),
        waiting=draw(
            st.lists(st.dictionaries(st.sampled_from(SKUS), st.integers(1, 3), min_size=1), max_size=1)
        ),
        returns=draw(
            st.lists(st.dictionaries(st.integers(0, n - 1), st.integers(1, 2), min_size=1), max_size=2)
        ),
        received=received,
        refunded=draw(st.sampled_from([Decimal("0.00"), received])),
        outstanding=draw(st.sampled_from(MONEY)),
        capturable=draw(st.sampled_from(MONEY)),
        paid_hours_ago=draw(st.none() | st.sampled_from([1, 100])),
        total=draw(st.sampled_from([Decimal("10.00"), Decimal("33.33"), Decimal("0.01")])),
        refund_discrepancy=draw(st.sampled_from([Decimal("0.00"), Decimal("-0.01"), Decimal("-30.00"),
                                                 Decimal("10.00")])),
        returned_elsewhere=draw(st.sampled_from([{}, {"RETX": {"NOT-OURS": 1}}])),
    )  # fmt: skip


def finance_set(g: Generated) -> FinanceOrderSet:
    rate = Decimal("1.17") if g.currency == "EUR" else Decimal("1")
    created = datetime.combine(g.day, datetime.min.time(), UTC) + timedelta(hours=9)
    zero = amount(Decimal("0.00"))
    order = FinanceOrderRow(
        shopify_order_id=g.gid, order_name=f"#{g.number}", order_date=g.day, created_at=created,
        cancelled_at=created + timedelta(hours=1) if g.cancelled else None,
        paid_at=None if g.paid_hours_ago is None else AS_OF - timedelta(hours=g.paid_hours_ago),
        financial_status="PAID", return_status="NO_RETURN", customer_name=g.customer, note=g.note,
        shop_currency="GBP", currency=g.currency, taxes_included=True,
        subtotal=amount(g.total, rate), discounts=zero, shipping=zero, tax=zero,
        total_price=amount(g.total, rate), current_total_price=amount(g.total, rate), current_tax=zero,
        received=amount(g.received, rate), refunded=amount(g.refunded, rate), refunded_shipping=zero,
        net_payment=amount(g.received - g.refunded, rate), outstanding=amount(g.outstanding, rate),
        refund_discrepancy=amount(g.refund_discrepancy, rate),
        capturable=amount(g.capturable, rate), shopify_updated_at=created,
    )  # fmt: skip
    finance_lines = tuple(
        FinanceLineRow(g.line_gid(i), li.sku, li.quantity, li.current, li.ships, amount(li.price, rate))
        for i, li in enumerate(g.lines)
    )
    refunds = tuple(
        RefundRow(
            f"gid://shopify/Refund/{g.number * 10 + i}", created, None, zero, None,
            (RefundLineRow(g.line_gid(i), restock, units, zero, zero),),
        )
        for i, li in enumerate(g.lines)
        for restock, units in li.refunds
    )  # fmt: skip
    return FinanceOrderSet(order, finance_lines, (), refunds)


def write(ledger: Ledger, generated: list[Generated]) -> None:
    now = datetime(2026, 10, 3, tzinfo=UTC)
    packages = []
    for g in generated:
        for k, content in enumerate(g.settled + g.waiting):
            settled = k < len(g.settled)
            items = {SKUS[i % 3]: u for i, u in content.items()} if settled else dict(content)  # type: ignore[union-attr]
            packages.append((g, f"DES{g.number}-{k}", items, settled, content))
    with ledger.transaction() as con:
        ledger_orders.upsert(con, [order_row(g.number, order_date=g.day) for g in generated])
        finance_orders.replace_orders(con, [finance_set(g) for g in generated])
        ledger_despatches.upsert(
            con,
            [
                PackageRow(number, number, f"SHP-{g.number}", g.gid, now, now.date(), None, None, None, None,
                           None, items, states.PENDING, None, None, now, now)
                for g, number, items, _, _ in packages
            ],
        )  # fmt: skip
        for g, number, _, settled, content in packages:
            if settled:
                lines_of = {g.line_gid(i): u for i, u in content.items()}  # type: ignore[union-attr]
                ledger_despatches.set_state(con, number, states.FULFILLED, None, lines_of)
        finance_units.refresh_package_units(con, states.SETTLED)
        finance_units.replace_return_units(
            con,
            {
                g.gid: {
                    f"RET{g.number}-{k}": {g.line_gid(i): u for i, u in r.items()}
                    for k, r in enumerate(g.returns)
                }
                for g in generated
                if g.returns or g.returned_elsewhere
            },
            unmatched={g.gid: g.returned_elsewhere for g in generated if g.returned_elsewhere},
        )


def expected_figures(g: Generated) -> rules.OrderFigures:
    shipping = [li for li in g.lines if li.ships]
    return rules.OrderFigures(
        cancelled=g.cancelled,
        units_current=sum(li.current for li in shipping),
        units_refunded_shipped=sum(q for li in shipping for r, q in li.refunds if r != "CANCEL"),
        units_refunded_for_return=sum(q for li in shipping for r, q in li.refunds if r == "RETURN"),
        units_despatched=sum(sum(p.values()) for p in g.settled + g.waiting),
        units_returned=sum(sum(r.values()) for r in g.returns),
        net_payment=g.received - g.refunded,
        current_total=g.total,
        refund_discrepancy=g.refund_discrepancy,
        units_returned_unmatched=sum(n for items in g.returned_elsewhere.values() for n in items.values()),
        capturable=g.capturable,
        paid_at=None if g.paid_hours_ago is None else AS_OF - timedelta(hours=g.paid_hours_ago),
    )


def expected_despatched_value(g: Generated) -> Decimal:
    value = Decimal("0.00")
    for package in g.settled:
        value += sum((g.lines[i].price * u for i, u in package.items() if g.lines[i].ships), Decimal(0))
    for package in g.waiting:
        for sku, units in package.items():
            prices = [li.price for li in g.lines if li.ships and li.sku == sku]
            value += min(prices) * units if prices else Decimal(0)
    return value
