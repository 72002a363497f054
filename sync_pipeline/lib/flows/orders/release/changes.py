"""Step 5 of release: Shopify changes to orders already in Peoplevox, pushed before the cut-off or raised."""

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.domain.cutoff import ChangeAction, ChangePlan, plan_change
from sync_pipeline.lib.domain.models import ShopOrder
from sync_pipeline.lib.domain.sales_order import (
    TranslatedOrder,
    TranslationOutcome,
)
from sync_pipeline.lib.domain.translate import translate_order
from sync_pipeline.lib.flows.orders import state
from sync_pipeline.lib.flows.orders.ports import (
    OrdersSource,
    RowResult,
    SaveOutcomeUnknownError,
    Warehouse,
)
from sync_pipeline.lib.flows.orders.records import aware, naive
from sync_pipeline.lib.flows.orders.release.report import ReleaseReport
from sync_pipeline.lib.flows.orders.release.translations import (
    batches,
    snapshot_fields,
    stored_translation,
    translation_record,
)
from sync_pipeline.lib.ledger import ExceptionRecord, Ledger, OrderEvent
from sync_pipeline.lib.ledger import events as ledger_events
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger import injections as ledger_injections
from sync_pipeline.lib.ledger import orders as ledger_orders


def push_changes(
    source: OrdersSource,
    warehouse: Warehouse,
    ledger: Ledger,
    rules: BusinessRules,
    actor: str,
    report: ReleaseReport,
    known_codes: set[str],
) -> None:
    """Shopify edits and cancellations of injected orders: push before the cut-off, else flag."""
    with ledger.transaction() as con:
        changed_ids = ledger_orders.with_pending_change(con, limit=500)
        rows = ledger_orders.get_many(con, changed_ids)
        sent = ledger_injections.get_many(
            con, [r.sales_order_number for r in rows.values() if r.sales_order_number]
        )
    pending = [
        (rows[oid], sent[rows[oid].sales_order_number])
        for oid in changed_ids
        if rows[oid].sales_order_number in sent and sent[rows[oid].sales_order_number].state == "accepted"
    ]
    if not pending:
        return
    fresh = source.orders_by_ids([row.shopify_order_id for row, _ in pending])
    current = {}
    for chunk in batches([inj.sales_order_number for _, inj in pending], 100):
        current.update(warehouse.find_sales_orders(chunk, with_items=False))

    for row, injection in pending:
        order = fresh.get(row.shopify_order_id)
        before = stored_translation(injection.header, injection.items)
        if order is None or before is None:
            _change_impossible(row.shopify_order_id, injection.sales_order_number, ledger, report)
            continue
        number = injection.sales_order_number
        latest = translate_order(order, rules, known_codes)
        status = current[number].status if number in current else None
        plan = plan_change(before, latest, status, rules.orders.cutoff_status)
        report.changes[plan.action.value] += 1
        results: list[RowResult] = []
        try:
            if plan.action is ChangeAction.CANCEL:
                results = warehouse.cancel([number])
            elif plan.action is ChangeAction.UPDATE:
                if plan.header_updates:
                    results += warehouse.update_headers([plan.header_updates])
                if plan.item_rows:
                    results += warehouse.save_items(list(plan.item_rows))
        except SaveOutcomeUnknownError:
            continue  # still pending: the next run plans it again from Peoplevox's current state
        _record_change(
            row.shopify_order_id, number, order, latest, plan, status, results, ledger, actor, report
        )


def _change_impossible(oid: str, number: str, ledger: Ledger, report: ReleaseReport) -> None:
    """Shopify no longer returns the order (or we lack what we sent): a person must look."""
    with ledger.transaction() as con:
        ledger_exceptions.open_or_touch(
            con,
            [
                ExceptionRecord(
                    kind="change_failed",
                    owner="cx",
                    message=f"order changed after {number} reached Peoplevox, but Shopify no longer returns it; "
                    "check the sales order in Peoplevox by hand",
                    shopify_order_id=oid,
                    sales_order_number=number,
                )
            ],
        )
        ledger_orders.set_fields(con, oid, change_pending=False)
    report.exceptions_opened += 1


def _record_change(
    oid: str,
    number: str,
    order: ShopOrder,
    latest: TranslationOutcome,
    plan: ChangePlan,
    status: str | None,
    results: list[RowResult],
    ledger: Ledger,
    actor: str,
    report: ReleaseReport,
) -> None:
    refused = [r.message for r in results if not r.ok]
    with ledger.transaction() as con:
        events = [
            OrderEvent(
                oid,
                f"change_{plan.action.value}",
                actor,
                reason=plan.summary,
                detail={"warehouse_status": status},
            )
        ]
        row = ledger_orders.get_many(con, [oid]).get(oid)
        newer_ingested = (
            row is not None
            and row.shopify_updated_at is not None
            and (row.shopify_updated_at > naive(aware(order.updated_at)))
        )
        # What was pushed is recorded either way; but if ingest committed a newer version while
        # we talked to Peoplevox, that version stays pending and the next run plans from it.
        fields: dict[str, object] = (
            {} if newer_ingested else {"change_pending": False, **snapshot_fields(order)}
        )
        if plan.action is ChangeAction.EXCEPTION or refused:
            message_records = [
                ExceptionRecord(
                    kind=e.kind.value,
                    owner=e.owner.value,
                    message=e.message,
                    shopify_order_id=oid,
                    sales_order_number=number,
                    subject=plan.summary,
                )
                for e in plan.exceptions
            ]
            if refused:
                message_records.append(
                    ExceptionRecord(
                        kind="change_failed",
                        owner="cx",
                        message=f"Peoplevox refused the change to {number} ({plan.summary}): {'; '.join(refused)}",
                        shopify_order_id=oid,
                        sales_order_number=number,
                        subject=plan.summary,
                    )
                )
            ledger_exceptions.open_or_touch(con, message_records)
            report.exceptions_opened += len(message_records)
        elif plan.action is ChangeAction.CANCEL:
            fields.update(state=state.CANCELLED_IN_WAREHOUSE, pvx_status="Cancelled")
            ledger_injections.mark(con, number, "accepted")
        elif plan.action is ChangeAction.UPDATE and isinstance(latest, TranslatedOrder):
            header, items = translation_record(latest)
            ledger_injections.mark_sending(con, [(number, oid, header, items)], run_id=actor)
            ledger_injections.mark(con, number, "accepted")
        if fields:
            ledger_orders.set_fields(con, oid, **fields)
        ledger_events.append(con, events)
