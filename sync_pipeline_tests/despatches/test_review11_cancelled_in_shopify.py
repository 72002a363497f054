"""Session 11: a fulfilment of ours cancelled in Shopify's admin. Both sandboxes over HTTP, the
orders ingest learning the order changed (as `orders/updated` or the poll makes it), and a real
ledger file."""

from __future__ import annotations

from datetime import UTC, datetime

from sync_pipeline.defs.despatches.checks import despatches_reach_shopify
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.cancelled import KIND
from sync_pipeline.lib.flows.orders.ingest import ingest
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.sandbox.shopify.control import LineSpec, OrderSpec
from sync_pipeline_tests.despatches.helpers import UK, emails_for, into_warehouse, run_once, shopify_lines
from sync_pipeline_tests.despatches.test_checks import _run
from sync_pipeline_tests.orders.conftest import Stack

# The merchant's action in the admin: the product itself never cancels a fulfilment.
FULFILLMENT_CANCEL = """
mutation FulfillmentCancel($id: ID!) {
  fulfillmentCancel(id: $id) { fulfillment { id status } userErrors { field message } }
}
"""


def _ledger(stack: Stack, oid: str) -> tuple[list[tuple[str, str]], list[str], str | None]:
    with stack.ledger.transaction() as con:
        fulfilments = con.execute(
            "SELECT package_number, state FROM shopify_fulfilments WHERE shopify_order_id = ? ORDER BY 1",
            [oid],
        ).fetchall()
        packages = con.execute(
            "SELECT state FROM despatch_packages WHERE shopify_order_id = ? ORDER BY package_number", [oid]
        ).fetchall()
        order = con.execute("SELECT despatch_state FROM orders WHERE shopify_order_id = ?", [oid]).fetchone()
    return [(p, s) for p, s in fulfilments], [s for (s,) in packages], order[0] if order else None


def test_a_fulfilment_cancelled_in_shopify_is_recorded_and_owned_not_sent_again(stack: Stack) -> None:
    """Someone cancels our fulfilment in the admin: the ledger said `fulfilled` for good and the
    checks did not notice. Now the next fulfil step learns it (the order changed after our write),
    records the fulfilment `cancelled` and the package `cancelled_in_shopify`, its order no longer
    `fulfilled`, and opens one CX exception; it never fulfils the package again (a second email)."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=2)], shipping_address=UK))[
        "id"
    ]
    despatch = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 2}])
    package = despatch["packages"][0]["number"]
    _, done = run_once(stack)
    assert done.fulfilled == 1 and _ledger(stack, oid) == ([(package, "created")], ["fulfilled"], "fulfilled")
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    _, quiet = run_once(stack)  # nothing cancelled yet: nothing recorded
    assert quiet.fulfilments_cancelled == 0, quiet.summary

    (fulfilment,) = stack.shop.get_order(oid)["fulfillments"]
    answer = stack.source.client.execute(
        "FulfillmentCancel", FULFILLMENT_CANCEL, {"id": fulfilment["id"]}, safe_to_retry=False
    )["fulfillmentCancel"]
    assert answer["userErrors"] == [] and shopify_lines(stack, oid) == {}
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))  # orders/updated
    _, done = run_once(stack)
    assert done.fulfilments_cancelled == 1 and done.fulfilled == 0, done.summary
    assert done.summary["fulfilments_cancelled_in_shopify"] == 1
    assert _ledger(stack, oid) == ([(package, "cancelled")], [states.CANCELLED_IN_SHOPIFY], "despatched")
    (problem,) = stack.ledger.list_open_exceptions(KIND)
    assert problem.owner == "cx" and problem.subject == package and fulfilment["name"] in problem.message
    # Nothing sent again, now or in later runs; the exception is not opened twice.
    for _ in range(2):
        _, later = run_once(stack)
        assert later.fulfilled == 0 and later.fulfilments_cancelled == 0, later.summary
    assert shopify_lines(stack, oid) == {} and len(emails_for(stack, oid)) == 1
    assert [e.occurrences for e in stack.ledger.list_open_exceptions(KIND)] == [1]


def test_a_cancelled_fulfilment_resolved_by_cx_is_not_a_package_missing_from_shopify(stack: Stack) -> None:
    """CX resolve `fulfilment_cancelled_in_shopify` (the runbook tells them to). The package stays
    `cancelled_in_shopify`, which the flow never sends again: `despatches_reach_shopify` listed it as
    owned while the exception was open, then as unexplained for good (an ERROR no one could clear)."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=1)], shipping_address=UK))[
        "id"
    ]
    package = stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])["packages"][0]["number"]
    run_once(stack)
    (fulfilment,) = stack.shop.get_order(oid)["fulfillments"]
    stack.source.client.execute(
        "FulfillmentCancel", FULFILLMENT_CANCEL, {"id": fulfilment["id"]}, safe_to_retry=False
    )
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    _, done = run_once(stack)
    assert done.fulfilments_cancelled == 1, done.summary
    with stack.ledger.transaction() as con:
        con.execute("UPDATE despatch_packages SET first_seen_at = first_seen_at - INTERVAL 2 HOUR "
                    "WHERE package_number = ?", [package])  # fmt: skip
    assert _run(despatches_reach_shopify, stack.data_dir).passed  # owned while the exception is open
    with stack.ledger.transaction() as con:  # as CX would, from the exceptions view
        ledger_exceptions.resolve_for_subjects(con, [KIND], [package], "customer told; parcel on its way")
    assert stack.ledger.list_open_exceptions(KIND) == []
    after = _run(despatches_reach_shopify, stack.data_dir)
    assert after.passed, after.metadata


def test_a_cancel_dated_before_our_clock_recorded_the_fulfilment_is_noticed(stack: Stack) -> None:
    """`updatedAt` has whole seconds and we record a fulfilment `created` when its answer is written,
    which under load is a second or more after Shopify made it. A cancel in that gap has a version
    older than our clock's time: compared with our clock it was never read (flaky in CI,
    2026-12-01). Compared with the version Shopify answered our fulfilment with, it is."""
    oid = stack.shop.place_order(OrderSpec(lines=[LineSpec(sku="CAP-NVY", quantity=1)], shipping_address=UK))[
        "id"
    ]
    stack.pvx.despatch(into_warehouse(stack)[oid], [{"CAP-NVY": 1}])
    _, made = run_once(stack)
    assert made.fulfilled == 1, made.summary
    with stack.ledger.transaction() as con:  # the answer written late, as under a busy ledger
        con.execute(
            "UPDATE shopify_fulfilments SET created_at = created_at + INTERVAL 5 SECOND, "
            "last_attempt_at = last_attempt_at + INTERVAL 5 SECOND WHERE shopify_order_id = ?",
            [oid],
        )
    (fulfilment,) = stack.shop.get_order(oid)["fulfillments"]
    stack.source.client.execute(
        "FulfillmentCancel", FULFILLMENT_CANCEL, {"id": fulfilment["id"]}, safe_to_retry=False
    )
    ingest(stack.source, stack.ledger, stack.rules, "test", datetime.now(UTC))
    _, done = run_once(stack)
    assert done.fulfilments_cancelled == 1, done.summary
    _, again = run_once(stack)  # checked at that version: not read again
    assert again.fulfilments_cancelled == 0 and stack.ledger.list_open_exceptions(KIND)[0].occurrences == 1
