"""A small ledger with orders, packages and exceptions of several kinds, for the ops tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import orders as ledger_orders
from sync_pipeline.lib.ledger.orders import LineRow, OrderRow
from sync_pipeline.lib.ledger.records import ExceptionRecord, OrderEvent

NOW = datetime.now(UTC).replace(tzinfo=None)


def order_id(n: int) -> str:
    return f"gid://shopify/Order/{n}"


def order(n: int, order_state: str, total: str, paid_hours_ago: float, b2b: bool = False) -> OrderRow:
    return OrderRow(
        shopify_order_id=order_id(n), legacy_id=n, order_name=f"#{n}", order_date=NOW.date(),
        state=order_state, financial_status="PAID", fulfillment_status=None, cancelled_at=None,
        shopify_created_at=NOW - timedelta(hours=paid_hours_ago), shopify_updated_at=NOW,
        paid_seen_at=NOW - timedelta(hours=paid_hours_ago), release_due_at=None,
        sales_order_number=f"SHP-{n}", site=None, channel=None, total_price=Decimal(total), currency="GBP",
        pvx_status=None, pvx_status_at=None, change_pending=False,
        snapshot={"b2b_company": "Acme Ltd" if b2b else None},
    )  # fmt: skip


def build(data_dir: Path) -> Ledger:
    """#1001 held for an unmapped fast seller (£60); #1002 refused, B2B (£2,400), overdue;
    #1003 cancelled while held, its old bad_address still open (cleared: the re-check closes it);
    #1004 a change after the cut-off (a person's); a package blocked, then fulfilled."""
    ledger = Ledger(data_dir / "ledger.duckdb")
    with ledger.transaction() as con:
        ledger_orders.upsert(
            con,
            [
                order(1001, state.HELD, "60.00", 2),
                order(1002, state.INJECTION_FAILED, "2400.00", 30, b2b=True),
                order(1003, state.CANCELLED_BEFORE_RELEASE, "35.00", 3),
                order(1004, state.IN_WAREHOUSE, "80.00", 5),
            ],
        )
        ledger_orders.replace_lines(
            con,
            [order_id(1001)],
            [LineRow(order_id(1001), "l1", "TEE-FAST", 2, True, False, Decimal("30.00"), None)],
        )
        # Forty more orders of TEE-FAST in the last two weeks: a fast seller.
        ledger_orders.upsert(
            con, [order(2000 + i, state.IN_WAREHOUSE, "30.00", 24 * (i % 14)) for i in range(40)]
        )
        ledger_orders.replace_lines(
            con,
            [order_id(2000 + i) for i in range(40)],
            [
                LineRow(order_id(2000 + i), "l1", "TEE-FAST", 5, True, False, Decimal("30.00"), None)
                for i in range(40)
            ],
        )
        con.execute(
            "INSERT INTO despatch_packages (package_number, despatch_number, sales_order_number, shopify_order_id, "
            "despatched_at, despatch_date, items, state, first_seen_at, updated_at) VALUES "
            "('DES9', 'DES9', 'SHP-1004', ?, ?, ?, ?, 'fulfilled', ?, ?)",
            [order_id(1004), NOW, NOW.date(), json.dumps({"TEE": 1}), NOW, NOW],
        )
        ledger_exceptions.open_or_touch(
            con,
            [
                ExceptionRecord("unmapped_sku", "warehouse_ops", "SKU 'TEE-FAST' has no item type",
                                shopify_order_id=order_id(1001), subject="TEE-FAST"),
                ExceptionRecord("injection_failed", "warehouse_ops", "Peoplevox: =HYPERLINK(\"x\") bad\x1b[31m service",
                                shopify_order_id=order_id(1002), sales_order_number="SHP-1002"),
                ExceptionRecord("bad_address", "cx", "postcode missing", shopify_order_id=order_id(1003)),
                ExceptionRecord("change_after_cutoff", "cx", "address changed after Picking",
                                shopify_order_id=order_id(1004), sales_order_number="SHP-1004"),
                ExceptionRecord("fulfillment_on_hold", "cx", "fulfilment order on hold",
                                shopify_order_id=order_id(1004), sales_order_number="SHP-1004", subject="DES9"),
            ],
        )  # fmt: skip
        # The refused order's exception has been open for 10 hours.
        con.execute(
            "UPDATE exceptions SET opened_at = ? WHERE kind = 'injection_failed'", [NOW - timedelta(hours=10)]
        )
        con.execute(
            "INSERT INTO order_events (shopify_order_id, occurred_at, kind, actor, reason) VALUES (?, ?, 'paid', 'run:x', 'paid')",
            [order_id(1002), NOW - timedelta(hours=30)],
        )
    ledger.append_events([OrderEvent(order_id(1002), "injection_failed", "run:y", reason="bad service")])
    _money_back(ledger)
    return ledger


def _money_back(ledger: Ledger) -> None:
    """#1004 as the finance flow read it: paid in EUR (the shop is in GBP), one unit refunded to be
    returned with a hostile note, a Shopify return, and two units the warehouse processed, one put back
    on the shelf and one written off."""
    amounts = ", ".join(["80.00"] * 13 + ["92.00"] * 13)
    with ledger.transaction() as con:
        con.execute(
            "INSERT INTO finance_orders VALUES (1004, ?, '#1004', ?, ?, NULL, ?, 'PARTIALLY_REFUNDED', 'RETURN_REQUESTED', "
            # The last two: refund discrepancy, shop and presentment (migration 0011).
            f"'Ann', NULL, 'GBP', 'EUR', true, {amounts}, ?, ?, 0.00, 0.00)",
            [order_id(1004), NOW.date(), NOW - timedelta(hours=5), NOW - timedelta(hours=5), NOW, NOW],
        )
        con.execute(
            "INSERT INTO finance_order_lines VALUES (1004, ?, 41, 'TEE', 2, 1, true, 40.00, 46.00)",
            [NOW.date()],
        )
        con.execute(
            "INSERT INTO finance_refunds VALUES (1004, ?, 'gid://shopify/Refund/7', ?, ?, 40.00, 46.00, "
            "'gid://shopify/Return/3')",
            [NOW.date(), NOW - timedelta(hours=1), "=cmd|' /C calc'!A0\x1b[2J wants a refund"],
        )
        con.execute(
            "INSERT INTO finance_refund_lines VALUES (1004, ?, 'gid://shopify/Refund/7', 41, true, 'RETURN', 1, "
            "33.33, 6.67, 38.33, 7.67)",
            [NOW.date()],
        )
        con.execute(
            "INSERT INTO finance_returns VALUES (1004, ?, 'gid://shopify/Return/3', '#1004-R1', 'OPEN', 2, ?, NULL)",
            [NOW.date(), NOW - timedelta(hours=2)],
        )
        con.execute(
            "INSERT INTO pvx_returns VALUES "
            "('RET-1', 'TEE', 'SHP-1004', ?, 1, 'Changed mind', 'Reusable', true, ?, 'PrimarySite', ?), "
            "('RET-2', 'TEE', 'SHP-1004', ?, 1, 'Damaged', 'Not reusable', false, ?, 'PrimarySite', ?)",
            [order_id(1004), NOW - timedelta(minutes=30), NOW] * 2,
        )
