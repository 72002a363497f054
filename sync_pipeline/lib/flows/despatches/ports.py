"""What the despatches flow needs from each system, as small protocols; adapters beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sync_pipeline.lib.domain.fulfilment import FulfilmentOrderLine, Move
from sync_pipeline.lib.domain.tracking import Tracking


@dataclass(frozen=True)
class DespatchedPackage:
    """One Peoplevox package as the Despatch summary report shows it."""

    package_number: str
    despatch_number: str
    sales_order_number: str
    despatched_at: datetime  # aware UTC
    carrier: str | None
    service: str | None
    site: str | None
    tracking_number: str | None
    items: dict[str, int]


@dataclass(frozen=True)
class HeldPackage:
    """A package the report shows in a form that cannot be recorded (no despatch date, a row that
    does not read): held whole, never in part, so no parcel is fulfilled without all its items."""

    package_number: str
    sales_order_number: str | None
    problem: str  # what was wrong, for the person reading the exception


@dataclass
class DespatchRead:
    packages: list[DespatchedPackage]
    held: list[HeldPackage] = field(default_factory=list)
    # Distinct report rows read per despatch minute (UTC; a row a page boundary repeats counts once):
    # what `rows_between` would count (a row that does not read is left out, so the count differs).
    rows_by_minute: dict[datetime, int] = field(default_factory=dict)


class DespatchSource(Protocol):
    rows_per_page: int  # rows a report request returns at most: a read costs a request per page

    def rows_between(self, since: datetime, until: datetime) -> int:
        """How many report rows have a despatch date in [since, until): one request, no rows read."""
        ...

    def packages_between(self, since: datetime, until: datetime | None = None) -> DespatchRead:
        """Packages despatched at or after `since` (and before `until`)."""
        ...

    def packages_by_number(self, numbers: Sequence[str]) -> DespatchRead:
        """These packages as Peoplevox has them now (unknown numbers left out)."""
        ...


@dataclass(frozen=True)
class OrderFulfilments:
    """An order's fulfilment orders in Shopify, read just before fulfilling."""

    order_id: str
    cancelled: bool
    fo_lines: tuple[FulfilmentOrderLine, ...]
    version: datetime | None = None  # the order's updatedAt when this was read


@dataclass(frozen=True)
class CreatedFulfilment:
    id: str
    name: str
    order_version: datetime | None  # the order's updatedAt right after it (Shopify's answer)


@dataclass(frozen=True)
class ExistingFulfilment:
    id: str
    name: str
    created_at: datetime
    quantities: dict[str, int]  # line item id → units
    tracking_numbers: tuple[str, ...]
    tracking_companies: tuple[str, ...] = ()  # the carriers its tracking names
    status: str = "SUCCESS"  # Shopify's FulfillmentStatus: CANCELLED once cancelled in the admin


class FulfilmentRefusedError(Exception):
    """Shopify answered with userErrors: nothing was created."""


class FulfilmentOutcomeUnknownError(Exception):
    """The request may or may not have created a fulfilment: look it up before sending again."""


class FulfilmentNotSentError(Exception):
    """Shopify certainly did not run the mutation: every attempt was throttled (429 or THROTTLED)
    or never reached it, until the client gave up. Safe to send again, no lookup needed."""


class ShopifyNotReadError(Exception):
    """A read Shopify kept refusing (THROTTLED or 429: the bucket shared with other readers at a
    peak) until the client gave up, at its attempts or the caller's deadline. Nothing was learned:
    whatever needed the read waits for the next run."""


class Storefront(Protocol):
    def fulfilment_state(
        self, order_ids: Sequence[str], retry_until: float | None = None
    ) -> dict[str, OrderFulfilments]:
        """The orders' fulfilment orders (unknown ids left out). `ShopifyNotReadError`: throttled until
        the client gave up (no retry starts after `retry_until`, a `time.monotonic()` instant)."""
        ...

    def create_fulfilment(
        self,
        request: dict[str, dict[str, int]],
        tracking: Tracking | None,
        notify_customer: bool,
        retry_until: float | None = None,
    ) -> CreatedFulfilment:
        """Create one fulfilment. `retry_until` (`time.monotonic()`): the send is not tried again
        after it (`FulfilmentNotSentError` when no attempt reached Shopify)."""
        ...

    def move_lines(self, move: Move) -> None:
        """Assign these fulfilment order line items to `move.location_id` (refused: nothing moved)."""
        ...

    def locations(self) -> dict[str, str]:
        """The shop's active locations: name as the admin shows it → location id
        (`ShopifyNotReadError` as for `fulfilment_state`)."""
        ...

    def fulfilments_of(self, order_id: str) -> list[ExistingFulfilment]: ...

    def add_tracking(self, fulfillment_id: str, tracking: Tracking) -> None:
        """Replace the fulfilment's tracking, no email. `FulfilmentRefusedError`: Shopify refused it;
        `FulfilmentNotSentError` / `FulfilmentOutcomeUnknownError`: not taken now, safe to send again."""
        ...
