"""The despatches flow's view of Shopify, built on `lib/shopify.ShopifyClient`."""

from __future__ import annotations

from collections.abc import Sequence

from sync_pipeline.lib.domain.fulfilment import FulfilmentOrderLine, Move
from sync_pipeline.lib.domain.tracking import Tracking
from sync_pipeline.lib.flows.despatches.ports import (
    CreatedFulfilment,
    ExistingFulfilment,
    FulfilmentNotSentError,
    FulfilmentOutcomeUnknownError,
    FulfilmentRefusedError,
    OrderFulfilments,
    ShopifyNotReadError,
)
from sync_pipeline.lib.shopify import (
    ShopifyClient,
    ShopifyOutcomeUnknown,
    ShopifyRetriesExhausted,
    ShopifyUserErrors,
)
from sync_pipeline.lib.shopify.models import TrackingInfo

FULFILLABLE = ("OPEN", "IN_PROGRESS")


def _tracking_info(tracking: Tracking) -> TrackingInfo:
    if not tracking.carried:
        return TrackingInfo(company=tracking.company, number=tracking.number, url=tracking.url)
    # Pooled parcels' numbers ride along: the plural fields, one carrier (`Tracking.carried`).
    numbers, urls = tracking.numbers_and_urls()
    return TrackingInfo(company=tracking.company, numbers=numbers or None, urls=urls or None)


class ShopifyStorefront:
    """`Storefront` over the Shopify Admin API."""

    def __init__(self, client: ShopifyClient) -> None:
        self.client = client

    def fulfilment_state(
        self, order_ids: Sequence[str], retry_until: float | None = None
    ) -> dict[str, OrderFulfilments]:
        try:
            read = self.client.get_orders_fulfilment_state(list(order_ids), retry_until=retry_until)
        except ShopifyRetriesExhausted as error:  # a read: nothing happened in Shopify
            raise ShopifyNotReadError(str(error)) from error
        found = {}
        for oid, state in read.items():
            lines = tuple(
                FulfilmentOrderLine(
                    fulfillment_order_id=fo.id,
                    fo_line_id=item.id,
                    line_id=item.line_item.id,
                    remaining=item.remaining_quantity,
                    location_id=fo.location_id,
                    fulfillable=fo.status in FULFILLABLE and "CREATE_FULFILLMENT" in fo.actions,
                    status=fo.status,
                    location_name=fo.assigned_location.name,
                    movable="MOVE" in fo.actions,
                    total=item.total_quantity,
                )
                for fo in state.fulfillment_orders
                for item in fo.line_items
            )
            found[oid] = OrderFulfilments(oid, state.cancelled_at is not None, lines, state.updated_at)
        return found

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        wanted = tracking and (tracking.number or tracking.company or tracking.numbers_and_urls()[0])
        info = _tracking_info(tracking) if tracking and wanted else None
        try:
            made = self.client.create_fulfillment(
                request, tracking=info, notify_customer=notify_customer, retry_until=retry_until
            )
        except ShopifyUserErrors as error:
            raise FulfilmentRefusedError("; ".join(e.message for e in error.errors)) from error
        except ShopifyOutcomeUnknown as error:
            raise FulfilmentOutcomeUnknownError(str(error)) from error
        except ShopifyRetriesExhausted as error:
            # The transport retries a mutation only when Shopify did not run it (429, THROTTLED, no
            # connection); a timeout or 5xx after sending is ShopifyOutcomeUnknown instead. So does
            # giving up at `retry_until`.
            raise FulfilmentNotSentError(str(error)) from error
        return CreatedFulfilment(made.id, made.name, made.order.updated_at if made.order else None)

    def move_lines(self, move: Move) -> None:
        try:
            self.client.move_fulfillment_order(move.fulfillment_order_id, move.location_id, move.lines)
        except ShopifyUserErrors as error:
            raise FulfilmentRefusedError("; ".join(e.message for e in error.errors)) from error
        except ShopifyOutcomeUnknown as error:
            raise FulfilmentOutcomeUnknownError(str(error)) from error
        except ShopifyRetriesExhausted as error:  # not run, as for create_fulfilment
            raise FulfilmentNotSentError(str(error)) from error

    def locations(self) -> dict[str, str]:
        try:
            found = self.client.list_locations()
        except ShopifyRetriesExhausted as error:
            raise ShopifyNotReadError(str(error)) from error
        return {loc.name: loc.id for loc in found if loc.is_active}

    def fulfilments_of(self, order_id: str) -> list[ExistingFulfilment]:
        try:
            read = self.client.get_order_fulfillments(order_id)
        except ShopifyRetriesExhausted as error:
            raise ShopifyNotReadError(str(error)) from error
        return [
            ExistingFulfilment(
                id=f.id,
                name=f.name,
                created_at=f.created_at,
                quantities=f.quantities,
                tracking_numbers=tuple(t.number for t in f.tracking_info if t.number),
                tracking_companies=tuple(t.company for t in f.tracking_info if t.company),
                status=f.status,
            )
            for f in read
        ]

    def add_tracking(self, fulfillment_id: str, tracking: Tracking) -> None:
        # notifyCustomer stays false: the customer already had this package's shipping email.
        try:
            self.client.update_fulfillment_tracking(
                fulfillment_id, _tracking_info(tracking), notify_customer=False
            )
        except ShopifyUserErrors as error:
            raise FulfilmentRefusedError("; ".join(e.message for e in error.errors)) from error
        except ShopifyOutcomeUnknown as error:
            raise FulfilmentOutcomeUnknownError(str(error)) from error
        except ShopifyRetriesExhausted as error:  # throttled (or no answer) until the client gave up
            raise FulfilmentNotSentError(str(error)) from error
