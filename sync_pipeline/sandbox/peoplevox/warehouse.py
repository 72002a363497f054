"""Warehouse simulator: item types, stock per site, sales orders moving through the floor.

Model (assumptions where Peoplevox's real behaviour is unknown; see API.md §10):

* Statuses are ``New → Allocated → Picking → Packed → Despatched``, plus ``Cancelled``.
  Numeric ids are not exposed; the templates carry the status name.
* A ``New`` order allocates only once it has lines, is not ``OnHold`` and has been left
  unedited for ``allocation_delay`` simulated seconds (headers and lines arrive in separate
  SaveData calls). Allocation is all-or-nothing per order: if any line lacks available
  stock the order stays ``New`` and is retried every ``allocation_retry`` seconds.
* Allocation reserves stock (``available = on_hand − allocated``); despatch consumes it from
  both ``on_hand`` and ``allocated``.
* A short pick (rate ``short_pick_rate``) picks one unit fewer than allocated on the largest
  line. What was picked is packed and despatched; the order goes back to ``Allocated`` with
  ``partially_despatched`` set and the remainder is picked in a later wave, giving a second
  despatch number. Short picks never lose stock, so stock always balances.
* A despatch is packed ``units_per_package`` units to a package. A one-package despatch is
  numbered ``DES00042``; a multi-package despatch numbers its packages ``DES00042-1``,
  ``DES00042-2`` … Each package has its own carrier, service and tracking number.
* At ``late_tracking_rate`` a package is despatched without a tracking number; the carrier's
  number arrives ``tracking_delay`` simulated seconds later, and ``TrackingNumberReceived`` is
  raised then (never for a blank number). See ``despatching.py`` for despatches driven by hand.
* Cancellation is only possible strictly before ``cancel_cutoff_status`` (default
  ``Picking``): ``New`` and ``Allocated`` orders can be cancelled, releasing their
  allocation; later ones are refused with an error text (the stricter reading of §10).
  How a real tenant cancels is unconfirmed: with ``cancel_by_import`` off, an import with
  ``Status=Cancelled`` is refused like any other status change (a tenant where only people
  cancel, in the Peoplevox UI; the control API's ``force_status`` plays that person).
* Only ``New``, ``Despatched``, ``Closed`` and ``Cancelled`` are confirmed status names.
  ``reported_statuses`` renames statuses wherever Peoplevox shows them (the ``Sales orders``
  template, status callbacks), e.g. ``{"Allocated": "Awaiting stock"}``, so a client meets
  names it has never heard of; the floor still runs on the internal statuses.
* Lines can be added or changed only strictly before ``line_cutoff_status`` (default
  ``Allocated``: only while ``New``); header fields only before the cut-off. Re-sending
  identical values is always accepted (idempotent retries). Whether a real tenant lets an
  allocated order's lines change is unknown: set ``line_cutoff_status`` to ``Picking`` for one
  that does. Such an edit is allocated (or released) at once, as far as stock allows: the
  stricter reading for the integration, whose figure then drops before it hears why.
* Goods-in and processed returns graded reusable add stock to a site; stock counts and
  write-offs (``stock_moves.py``) correct it.

Every change raises the matching event through the ``emit`` callback, with every fact the
simulator knows (site included); ``events.py`` passes on only the placeholders Peoplevox is
known to fill. All state is in memory.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sync_pipeline.sandbox.peoplevox.clock import SimClock

NEW, ALLOCATED, PICKING, PACKED, DESPATCHED, CANCELLED = (
    "New",
    "Allocated",
    "Picking",
    "Packed",
    "Despatched",
    "Cancelled",
)
FLOW: tuple[str, ...] = (NEW, ALLOCATED, PICKING, PACKED, DESPATCHED)
STATUSES: tuple[str, ...] = (*FLOW, CANCELLED)

# Event type names as in the WSDL's SubscriptionEventTypes.
AVAILABILITY_CHANGES = "AvailabilityChanges"
SALES_ORDER_STATUS_CHANGES = "SalesOrderStatusChanges"
TRACKING_NUMBER_RECEIVED = "TrackingNumberReceived"
GOODS_RECEIVED = "GoodsReceived"
RETURNS = "Returns"
INCREMENTAL_CHANGES = "IncrementalChanges"

Emit = Callable[[str, dict[str, str]], None]


class WarehouseError(ValueError):
    """A request the warehouse refuses; the message is the per-row error text."""


@dataclass(frozen=True)
class ServiceType:
    name: str
    code: str
    carrier: str
    service: str
    tracking_prefix: str
    # What a TrackingNumberReceived callback's {Carrier.Number} holds is unknown; the sandbox
    # sends a number, so nothing can mistake it for the carrier's name.
    carrier_number: str = ""


DEFAULT_SERVICE_TYPES: tuple[ServiceType, ...] = (
    ServiceType("Standard", "STD", "Royal Mail", "Tracked 48", "RM", "1"),
    ServiceType("Express", "EXP", "DPD", "Next Day", "DPD", "2"),
    ServiceType("Pallet", "PAL", "Palletways", "Pallet 48", "PW", "3"),
)


@dataclass
class WarehouseSettings:
    sites: tuple[str, ...] = ("PrimarySite", "Wholesale")
    allocation_delay: float = 300.0
    allocation_retry: float = 600.0
    picking_after: float = 900.0
    packing_after: float = 600.0
    despatch_after: float = 1800.0
    units_per_package: int = 3
    short_pick_rate: float = 0.0
    late_tracking_rate: float = 0.0
    tracking_delay: float = 600.0
    cancel_cutoff_status: str = PICKING
    # Lines change only strictly before this status (see the module docstring).
    line_cutoff_status: str = ALLOCATED
    # False: SaveData may not cancel (Status=Cancelled is refused like any status change).
    cancel_by_import: bool = True
    # Internal status → the name Peoplevox reports for it (unknown to the client on purpose).
    reported_statuses: dict[str, str] = field(default_factory=dict)
    seed: int = 4
    service_types: tuple[ServiceType, ...] = DEFAULT_SERVICE_TYPES


@dataclass
class ItemType:
    item_code: str
    barcode: str
    name: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class StockLevel:
    on_hand: int = 0
    allocated: int = 0
    # Tallies that let a test prove stock balances:
    # seeded + goods_in + returns + adjusted − despatched = on_hand. Returns graded not reusable
    # never reach on_hand: they are counted in `quarantined` (stock_moves.py).
    seeded: int = 0
    goods_in: int = 0
    returns: int = 0
    despatched: int = 0
    adjusted: int = 0
    quarantined: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated


@dataclass
class OrderLine:
    line: str
    item_code: str
    quantity_ordered: int
    fields: dict[str, Any] = field(default_factory=dict)
    allocated: int = 0
    despatched: int = 0

    @property
    def outstanding(self) -> int:
        return self.quantity_ordered - self.despatched


@dataclass
class SalesOrder:
    number: str
    site: str
    service_type: str
    channel: str
    fields: dict[str, Any]
    created_at: datetime
    status: str = NEW
    status_since: datetime | None = None
    last_edit: datetime | None = None
    partially_despatched: bool = False
    allocation_blocked: bool = False
    lines: dict[str, OrderLine] = field(default_factory=dict)
    version: int = 0

    @property
    def on_hold(self) -> bool:
        return bool(self.fields.get("OnHold"))


@dataclass
class Package:
    number: str
    carrier: str
    service: str
    service_code: str
    tracking_number: str
    items: dict[str, int]


@dataclass
class Despatch:
    number: str
    sales_order_number: str
    site: str
    despatched_at: datetime
    service_type: str
    packages: list[Package]


@dataclass
class ReturnRecord:
    code: str
    sales_order_number: str
    item_code: str
    quantity: int
    site: str
    reason: str
    returned_at: datetime
    # Graded on receipt: a reusable unit goes back on the shelf (on hand, available to sell);
    # anything else is quarantined and never sold (stock_moves.py).
    reusable: bool = True


@dataclass
class GoodsIn:
    goods_in_id: str
    reference: str
    item_code: str
    site: str
    quantity: int
    received_at: datetime


class Warehouse:
    """Thread-safe: every public method holds one re-entrant lock."""

    def __init__(self, clock: SimClock, settings: WarehouseSettings | None = None, emit: Emit | None = None):
        self.clock = clock
        self.settings = settings or WarehouseSettings()
        self._emit_fn: Emit = emit or (lambda _type, _values: None)
        self.lock = threading.RLock()
        self.items: dict[str, ItemType] = {}
        self._barcode_owner: dict[str, str] = {}  # barcode → item code: a lookup, not a scan, per upsert
        self.stock: dict[tuple[str, str], StockLevel] = {}
        self.orders: dict[str, SalesOrder] = {}
        self.despatches: dict[str, Despatch] = {}
        self.returns: list[ReturnRecord] = []
        self.goods_ins: list[GoodsIn] = []
        self.customers: dict[str, dict[str, Any]] = {}
        self._due: list[tuple[datetime, int, str, int]] = []
        # Late tracking numbers: (when the carrier's number arrives, seq, package number).
        self.tracking_due: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()
        self._despatch_seq = itertools.count(1)
        self._tracking_seq = itertools.count(100000001)
        self._return_seq = itertools.count(1)
        self._goods_in_seq = itertools.count(1)
        self._rng = random.Random(self.settings.seed)

    # -- events -------------------------------------------------------------------------
    def set_emitter(self, emit: Emit) -> None:
        self._emit_fn = emit

    def _emit(self, event_type: str, values: dict[str, str]) -> None:
        self._emit_fn(event_type, values)

    def reported_status(self, status: str) -> str:
        """The status name as Peoplevox shows it (templates and callbacks)."""
        return self.settings.reported_statuses.get(status, status)

    def _stamp(self) -> str:
        return self.clock.now().strftime("%Y-%m-%dT%H:%M:%S")

    def availability_changed(self, item_code: str, site: str) -> None:
        """Raise AvailabilityChanges for one item and site (stock_moves.py uses it too)."""
        level = self.level(item_code, site)
        self._emit(
            AVAILABILITY_CHANGES,
            {"ItemCode": item_code, "Available": str(level.available), "SiteReference": site},
        )

    def on_hand_changed(self, item_code: str, site: str, delta: int, reason: str) -> None:
        self._emit(
            INCREMENTAL_CHANGES,
            {
                "ItemType.ItemCode": item_code,
                "QuantityChanged": str(delta),
                "Reason": reason,
                "UpdatedBy": "warehouse",
                "UpdateTimestamp": self._stamp(),
                "SiteReference": site,
            },
        )

    def _status_changed(self, order: SalesOrder) -> None:
        values = {
            "SalesOrderNumber": order.number,
            "LastModificationTime": self._stamp(),
            "SalesOrderStatus.Name": self.reported_status(order.status),
            "SiteReference": order.site,
        }
        # The one public client's spelling (the only one callbacks fill, see events.py).
        values["SalesOrderStatu.Name"] = self.reported_status(order.status)
        self._emit(SALES_ORDER_STATUS_CHANGES, values)

    # -- lookups ------------------------------------------------------------------------
    def level(self, item_code: str, site: str) -> StockLevel:
        return self.stock.setdefault((item_code, site), StockLevel())

    def service_type(self, name: str) -> ServiceType:
        for service_type in self.settings.service_types:
            if service_type.name.lower() == name.lower():
                return service_type
        raise WarehouseError(f"Service type '{name}' does not exist")

    def check_site(self, site: str) -> str:
        for known in self.settings.sites:
            if known.lower() == site.lower():
                return known
        raise WarehouseError(f"Site '{site}' does not exist")

    # -- catalogue and stock --------------------------------------------------------------
    def upsert_item(self, item_code: str, barcode: str, name: str = "", **fields: Any) -> None:
        with self.lock:
            if not item_code:
                raise WarehouseError("ItemCode is required")
            if not barcode:
                raise WarehouseError("Barcode is required")
            owner = self._barcode_owner.get(barcode)
            if owner is not None and owner != item_code:
                raise WarehouseError(f"Barcode '{barcode}' is already used by item '{owner}'")
            existing = self.items.get(item_code)
            if existing is None:
                self.items[item_code] = ItemType(item_code, barcode, name, dict(fields))
            else:
                self._barcode_owner.pop(existing.barcode, None)
                existing.barcode = barcode
                existing.name = name or existing.name
                existing.fields.update(fields)
            self._barcode_owner[barcode] = item_code

    def delete_item(self, item_code: str) -> None:
        with self.lock:
            if item_code not in self.items:
                raise WarehouseError(f"Item type '{item_code}' does not exist")
            if any(
                level.on_hand or level.allocated
                for (code, _), level in self.stock.items()
                if code == item_code
            ):
                raise WarehouseError(f"Item type '{item_code}' has stock and cannot be deleted")
            if any(line.item_code == item_code for o in self.orders.values() for line in o.lines.values()):
                raise WarehouseError(f"Item type '{item_code}' is used on sales orders and cannot be deleted")
            self._barcode_owner.pop(self.items[item_code].barcode, None)
            del self.items[item_code]

    def set_stock(self, item_code: str, site: str, quantity: int) -> None:
        """Seed stock: sets on-hand; the change counts as `seeded` in the balance."""
        with self.lock:
            site = self.check_site(site)
            if item_code not in self.items:
                raise WarehouseError(f"Item type '{item_code}' does not exist")
            level = self.level(item_code, site)
            if quantity < level.allocated:
                raise WarehouseError(f"cannot set stock below the {level.allocated} allocated units")
            level.seeded += quantity - level.on_hand
            level.on_hand = quantity

    def goods_in(self, item_code: str, site: str, quantity: int, reference: str = "") -> GoodsIn:
        with self.lock:
            site = self.check_site(site)
            if item_code not in self.items:
                raise WarehouseError(f"Item type '{item_code}' does not exist")
            if quantity <= 0:
                raise WarehouseError("goods-in quantity must be positive")
            record = GoodsIn(
                f"GI{next(self._goods_in_seq):05d}", reference, item_code, site, quantity, self.clock.now()
            )
            level = self.level(item_code, site)
            level.on_hand += quantity
            level.goods_in += quantity
            self.goods_ins.append(record)
            self._emit(
                GOODS_RECEIVED,
                {
                    "GoodsInId": record.goods_in_id,
                    "Reference": reference,
                    "ReconciledDateTime": self._stamp(),
                    "Consignments.ConsignmentItemTypes.ItemType.ItemCode": item_code,
                    "Consignments.ConsignmentItemTypes.Quantity": str(quantity),
                    "SiteReference": site,
                },
            )
            self.on_hand_changed(item_code, site, quantity, "Goods in")
            self.availability_changed(item_code, site)
            return record

    def process_return(
        self,
        sales_order_number: str,
        item_code: str,
        quantity: int,
        reason: str = "",
        reusable: bool = True,
        return_code: str | None = None,
    ) -> ReturnRecord:
        """`return_code`: one more item of a return already booked (a parcel holding several items,
        or units of one item graded differently): the Return summary then has a row per item and
        grading under the one code, dated when the return was booked."""
        with self.lock:
            order = self.orders.get(sales_order_number)
            if order is None:
                raise WarehouseError(f"Sales order '{sales_order_number}' does not exist")
            same = [r for r in self.returns if r.code == return_code]
            if return_code is not None and not any(r.sales_order_number == sales_order_number for r in same):
                raise WarehouseError(f"Return '{return_code}' of '{sales_order_number}' does not exist")
            despatched = sum(li.despatched for li in order.lines.values() if li.item_code == item_code)
            already = sum(
                r.quantity
                for r in self.returns
                if r.sales_order_number == sales_order_number and r.item_code == item_code
            )
            if quantity <= 0 or quantity > despatched - already:
                raise WarehouseError(
                    f"cannot return {quantity} of '{item_code}' on '{sales_order_number}': "
                    f"{despatched - already} despatched and not yet returned"
                )
            record = ReturnRecord(
                return_code or f"RET{next(self._return_seq):05d}",
                sales_order_number,
                item_code,
                quantity,
                order.site,
                reason,
                same[0].returned_at if same else self.clock.now(),
                reusable,
            )
            level = self.level(item_code, order.site)
            if reusable:
                level.on_hand += quantity
                level.returns += quantity
            else:
                level.quarantined += quantity
            self.returns.append(record)
            self._emit(
                RETURNS,
                {
                    "ReturnCode": record.code,
                    "SalesOrderNumber": sales_order_number,
                    "ItemCode": item_code,
                    "Quantity": str(quantity),
                    "ReturnReason": reason,
                    "SiteReference": order.site,
                },
            )
            if reusable:
                self.on_hand_changed(item_code, order.site, quantity, "Return")
                self.availability_changed(item_code, order.site)
            return record

    # -- sales orders ---------------------------------------------------------------------
    def _before_cutoff(self, order: SalesOrder) -> bool:
        if order.status == CANCELLED:
            return False
        return FLOW.index(order.status) < FLOW.index(self.settings.cancel_cutoff_status)

    def upsert_order(self, number: str, fields: dict[str, Any], allocate: bool = True) -> None:
        """Insert or update a header; `fields` holds only the columns that were sent.

        `allocate=False` is SaveData Action 1: the order waits until saved again with Action 0.
        """
        with self.lock:
            fields = dict(fields)
            status = self._internal_status(str(fields.pop("Status", "") or ""))
            order = self.orders.get(number)
            if order is None:
                if status and status != NEW:
                    raise WarehouseError(f"a new sales order cannot be imported with Status '{status}'")
                site = self.check_site(str(fields.get("Site") or self.settings.sites[0]))
                service = self.service_type(str(fields.get("ServiceType") or "Standard")).name
                fields["Site"], fields["ServiceType"] = site, service
                now = self.clock.now()
                order = SalesOrder(
                    number=number,
                    site=site,
                    service_type=service,
                    channel=str(fields.get("ChannelName") or ""),
                    fields=fields,
                    created_at=fields.get("CreatedDate") or now,
                    status_since=now,
                    last_edit=now,
                    allocation_blocked=not allocate,
                )
                self.orders[number] = order
                self._schedule(order)
                self._status_changed(order)
                return
            changes = {k: v for k, v in fields.items() if order.fields.get(k) != v}
            if "Site" in changes:
                changes["Site"] = self.check_site(str(changes["Site"]))
                if changes["Site"] == order.site:
                    del changes["Site"]
            if "ServiceType" in changes:
                changes["ServiceType"] = self.service_type(str(changes["ServiceType"])).name
                if changes["ServiceType"] == order.service_type:
                    del changes["ServiceType"]
            if changes:
                if not self._before_cutoff(order):
                    raise WarehouseError(
                        f"Sales order '{number}' is {self.reported_status(order.status)} "
                        "and can no longer be edited"
                    )
                if "Site" in changes and order.status != NEW:
                    raise WarehouseError(f"Sales order '{number}' is allocated; its site cannot change")
                order.fields.update(changes)
                order.site = order.fields.get("Site", order.site)
                order.service_type = order.fields.get("ServiceType", order.service_type)
                order.channel = str(order.fields.get("ChannelName") or "")
                order.last_edit = self.clock.now()
                self._schedule(order)
            if allocate and order.allocation_blocked:
                order.allocation_blocked = False
                self._schedule(order)
            if status == CANCELLED and (self.settings.cancel_by_import or order.status == CANCELLED):
                self.cancel(number)
            elif status and status != order.status:
                raise WarehouseError(
                    f"Status cannot be changed from {self.reported_status(order.status)} "
                    f"to {self.reported_status(status)} by import"
                )

    def _internal_status(self, name: str) -> str:
        """An imported Status value may use the reported name; the floor works on ours."""
        for internal, reported in self.settings.reported_statuses.items():
            if reported.casefold() == name.casefold():
                return internal
        return name

    def upsert_line(
        self, number: str, line: str, item_code: str, quantity: int, fields: dict[str, Any]
    ) -> None:
        with self.lock:
            order = self.orders.get(number)
            if order is None:
                raise WarehouseError(f"Sales order '{number}' does not exist")
            if item_code not in self.items:
                raise WarehouseError(f"Item type '{item_code}' does not exist")
            if quantity <= 0:
                raise WarehouseError("QuantityOrdered must be a positive whole number")
            existing = order.lines.get(line)
            if existing is not None and (existing.item_code, existing.quantity_ordered) == (
                item_code,
                quantity,
            ):
                existing.fields.update(fields)
                return
            if order.status == CANCELLED or FLOW.index(order.status) >= FLOW.index(
                self.settings.line_cutoff_status
            ):
                raise WarehouseError(
                    f"Sales order '{number}' is {self.reported_status(order.status)}; "
                    "its lines can no longer change"
                )
            if existing is not None and existing.allocated:
                self._release_line(order, existing)
            if existing is None:
                order.lines[line] = OrderLine(line, item_code, quantity, dict(fields))
            else:
                existing.item_code, existing.quantity_ordered = item_code, quantity
                existing.fields.update(fields)
            if order.status != NEW:
                self._allocate_line(order, order.lines[line])
            order.last_edit = self.clock.now()
            self._schedule(order)

    def _release_line(self, order: SalesOrder, line: OrderLine) -> None:
        self.level(line.item_code, order.site).allocated -= line.allocated
        line.allocated = 0
        self.availability_changed(line.item_code, order.site)

    def _allocate_line(self, order: SalesOrder, line: OrderLine) -> None:
        """An allocated order's edited line takes what it needs at once, as far as stock allows."""
        extra = min(line.outstanding - line.allocated, self.level(line.item_code, order.site).available)
        if extra > 0:
            line.allocated += extra
            self.level(line.item_code, order.site).allocated += extra
            self.availability_changed(line.item_code, order.site)

    def cancel(self, number: str) -> None:
        with self.lock:
            order = self.orders.get(number)
            if order is None:
                raise WarehouseError(f"Sales order '{number}' does not exist")
            if order.status == CANCELLED:
                return
            if not self._before_cutoff(order):
                raise WarehouseError(
                    f"Sales order '{number}' is {self.reported_status(order.status)}; it can only be "
                    f"cancelled before {self.reported_status(self.settings.cancel_cutoff_status)}"
                )
            self._release(order)
            self._set_status(order, CANCELLED)

    def force_status(self, number: str, status: str) -> None:
        """Drive an order to `status` through the real transitions (ignores timings and cut-off)."""
        with self.lock:
            order = self.orders.get(number)
            if order is None:
                raise WarehouseError(f"Sales order '{number}' does not exist")
            if status == CANCELLED:
                if order.status in (DESPATCHED, CANCELLED):
                    raise WarehouseError(f"Sales order '{number}' is already {order.status}")
                self._release(order)
                self._set_status(order, CANCELLED)
                return
            if status not in FLOW or order.status == CANCELLED:
                raise WarehouseError(f"cannot force '{number}' from {order.status} to {status}")
            if FLOW.index(status) < FLOW.index(order.status):
                raise WarehouseError(f"cannot move '{number}' back from {order.status} to {status}")
            guard = 0
            while order.status != status:
                guard += 1
                if guard > 100 or not self._step(order, forced=True):
                    raise WarehouseError(
                        f"Sales order '{number}' cannot reach {status} (stays {order.status})"
                    )

    # -- the floor ------------------------------------------------------------------------
    def _schedule(self, order: SalesOrder) -> None:
        order.version += 1
        due = self._due_time(order)
        if due is not None:
            heapq.heappush(self._due, (due, next(self._seq), order.number, order.version))

    def _due_time(self, order: SalesOrder) -> datetime | None:
        s = self.settings
        since = order.status_since or self.clock.now()
        if order.status == NEW:
            return max(order.last_edit or since, since) + timedelta(seconds=s.allocation_delay)
        delay = {ALLOCATED: s.picking_after, PICKING: s.packing_after, PACKED: s.despatch_after}.get(
            order.status
        )
        return None if delay is None else since + timedelta(seconds=delay)

    def advance(self, seconds: float) -> int:
        """Move the clock on by `seconds`, applying every transition that falls due; returns how many."""
        with self.lock:
            target = self.clock.now() + timedelta(seconds=seconds)
            applied = 0
            while self._due and self._due[0][0] <= target:
                due, _, number, version = heapq.heappop(self._due)
                order = self.orders.get(number)
                if order is None or order.version != version:
                    continue
                if due > self.clock.now():
                    self.clock.set(due)
                if self._step(order, forced=False):
                    applied += 1
                elif order.status == NEW:
                    # Not allocatable yet (no lines, on hold, short of stock): try again later.
                    order.version += 1
                    retry = self.clock.now() + timedelta(seconds=self.settings.allocation_retry)
                    heapq.heappush(self._due, (retry, next(self._seq), number, order.version))
            self.clock.set(max(target, self.clock.now()))
            while self.tracking_due and self.tracking_due[0][0] <= self.clock.now():
                _, _, package_number = heapq.heappop(self.tracking_due)
                self.assign_tracking(package_number)
                applied += 1
            return applied

    def _step(self, order: SalesOrder, forced: bool) -> bool:
        if order.status == NEW:
            return self._allocate(order, forced)
        if order.status == ALLOCATED:
            self._set_status(order, PICKING)
            return True
        if order.status == PICKING:
            self._set_status(order, PACKED)
            return True
        if order.status == PACKED:
            self._despatch(order, forced)
            return True
        return False

    def _set_status(self, order: SalesOrder, status: str) -> None:
        order.status = status
        order.status_since = self.clock.now()
        self._schedule(order)
        self._status_changed(order)

    def _allocate(self, order: SalesOrder, forced: bool) -> bool:
        if not order.lines or ((order.on_hold or order.allocation_blocked) and not forced):
            return False
        needs: dict[str, int] = {}
        for line in order.lines.values():
            needs[line.item_code] = needs.get(line.item_code, 0) + line.outstanding - line.allocated
        if any(self.level(code, order.site).available < qty for code, qty in needs.items()):
            return False
        for line in order.lines.values():
            extra = line.outstanding - line.allocated
            line.allocated += extra
            self.level(line.item_code, order.site).allocated += extra
        self._set_status(order, ALLOCATED)
        for code in needs:
            self.availability_changed(code, order.site)
        return True

    def _release(self, order: SalesOrder) -> None:
        touched = []
        for line in order.lines.values():
            if line.allocated:
                self.level(line.item_code, order.site).allocated -= line.allocated
                line.allocated = 0
                touched.append(line.item_code)
        for code in dict.fromkeys(touched):
            self.availability_changed(code, order.site)

    def _despatch(self, order: SalesOrder, forced: bool) -> None:
        picked = {name: line.allocated for name, line in order.lines.items() if line.allocated}
        total = sum(picked.values())
        if not forced and total > 1 and self._rng.random() < self.settings.short_pick_rate:
            largest = max(picked, key=lambda name: picked[name])
            picked[largest] -= 1
        units: list[str] = []
        for name, qty in picked.items():
            units.extend([order.lines[name].item_code] * qty)
        per = max(1, self.settings.units_per_package)
        chunks = [units[i : i + per] for i in range(0, len(units), per)]
        packages = [{code: chunk.count(code) for code in dict.fromkeys(chunk)} for chunk in chunks]
        rate = self.settings.late_tracking_rate
        late = [rate > 0 and self._rng.random() < rate for _ in packages]
        self.record_despatch(order, packages, late)

    def record_despatch(
        self, order: SalesOrder, packages: list[dict[str, int]], late: list[bool]
    ) -> Despatch:
        """Take `packages` ({item code: units} each) out of the order's allocation and ship them.

        Units beyond the allocation (the floor added an item) come out of the site's on-hand stock.
        """
        shipped: dict[str, int] = {}
        for items in packages:
            for code, qty in items.items():
                shipped[code] = shipped.get(code, 0) + qty
        for code, qty in shipped.items():
            level = self.level(code, order.site)
            left = qty
            for line in order.lines.values():
                if line.item_code != code or not left:
                    continue
                sent = min(left, line.outstanding)
                from_allocation = min(sent, line.allocated)
                line.allocated -= from_allocation
                level.allocated -= from_allocation
                line.despatched += sent
                left -= sent
            level.on_hand -= qty
            level.despatched += qty
        number = f"DES{next(self._despatch_seq):05d}"
        service = self.service_type(order.service_type)
        records = []
        for index, items in enumerate(packages, start=1):
            package_number = number if len(packages) == 1 else f"{number}-{index}"
            tracking = "" if late[index - 1] else self._tracking_number(service)
            records.append(
                Package(package_number, service.carrier, service.service, service.code, tracking, items)
            )
            if late[index - 1]:
                due = self.clock.now() + timedelta(seconds=self.settings.tracking_delay)
                heapq.heappush(self.tracking_due, (due, next(self._seq), package_number))
        despatch = Despatch(number, order.number, order.site, self.clock.now(), service.name, records)
        self.despatches[number] = despatch
        remaining = any(line.outstanding for line in order.lines.values())
        order.partially_despatched = remaining or order.partially_despatched
        for code, qty in shipped.items():
            self.on_hand_changed(code, order.site, -qty, "Despatch")
        for package in records:
            if package.tracking_number:
                self._tracking_received(order, package)
        if remaining:
            # The rest is still reserved; it goes round again as a second wave.
            self._set_status(order, ALLOCATED)
        else:
            self._set_status(order, DESPATCHED)
        return despatch

    def _tracking_number(self, service: ServiceType) -> str:
        return f"{service.tracking_prefix}{next(self._tracking_seq)}GB"

    def assign_tracking(self, package_number: str, tracking: str | None = None) -> Package:
        """The carrier's number for a package despatched without one (late tracking)."""
        with self.lock:
            for despatch in self.despatches.values():
                for package in despatch.packages:
                    if package.number == package_number:
                        if package.tracking_number:
                            raise WarehouseError(f"package '{package_number}' already has a tracking number")
                        package.tracking_number = tracking or self._tracking_number(
                            self.service_type(despatch.service_type)
                        )
                        self._tracking_received(self.orders[despatch.sales_order_number], package)
                        return package
            raise WarehouseError(f"package '{package_number}' does not exist")

    def _tracking_received(self, order: SalesOrder, package: Package) -> None:
        service = self.service_type(order.service_type)
        self._emit(
            TRACKING_NUMBER_RECEIVED,
            {
                "DespatchNumber": package.number,
                "TrackingNumber": package.tracking_number,
                "Carrier.Number": service.carrier_number,
                "Carrier.Name": package.carrier,
                "ServiceType.Code": package.service_code,
                "ServiceType.Name": service.name,
                "Picks.SalesOrder.SalesOrderNumber": order.number,
                "Picks.SalesOrder.Email": str(order.fields.get("Email") or ""),
            },
        )
