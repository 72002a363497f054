"""Stock targets: examples, bundle availability, and the oversell invariant as a state machine."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sync_pipeline.lib.domain.buffers import BufferDecision
from sync_pipeline.lib.domain.stock_targets import (
    Listing,
    OpenOrderUnits,
    awaiting_estimate,
    listing_key,
    plan_targets,
    sku_of_key,
    target_for,
)

from .factories import PROPERTY

SITE, LOC = "PrimarySite", "gid://shopify/Location/1"
NO_BUFFER = BufferDecision(0, "default")
RECIPES = {"A": (("A", 1),), "B": (("B", 1),), "BOX": (("A", 1), ("B", 2)), "C-OLD": (("C", 1),)}


def listing(sku: str, buffer: int = 0) -> Listing:
    return Listing(sku, f"item-{sku}", LOC, SITE, RECIPES[sku], BufferDecision(buffer, "default"))


def test_plain_sku_is_available_less_awaiting_less_buffer_floored() -> None:
    available = {("A", SITE): 10}
    assert target_for(listing("A", 2), available, {("A", SITE): 3}).quantity == 5  # type: ignore[union-attr]
    assert target_for(listing("A", 2), available, {("A", SITE): 9}).quantity == 0  # type: ignore[union-attr]
    assert target_for(listing("A"), {("A", SITE): -4}, {}).quantity == 0  # type: ignore[union-attr]
    assert target_for(listing("A"), {("B", SITE): 4}, {}) is None  # never read: never pushed


def test_bundle_is_the_least_complete_set_less_its_buffer() -> None:
    available = {("A", SITE): 7, ("B", SITE): 9}
    box = target_for(listing("BOX", 1), available, {("B", SITE): 2})
    assert box is not None and box.quantity == 2  # B: (9 − 2) // 2 = 3 sets, less 1
    assert target_for(listing("BOX"), {("A", SITE): 7}, {}) is None


def test_committed_covers_orders_the_ledger_has_not_read() -> None:
    # Shopify committed 5; the ledger knows 2 awaiting and 1 allocated-not-fulfilled: 2 are unknown.
    assert awaiting_estimate(2, 5, 1) == 4
    assert awaiting_estimate(2, None, 1) == 2
    assert awaiting_estimate(2, 1, 1) == 2  # never below what the ledger knows


def test_an_order_not_routed_yet_is_held_at_every_site() -> None:
    wholesale = Listing("A", "item-A", "gid://shopify/Location/2", "Wholesale", RECIPES["A"], NO_BUFFER)
    targets = plan_targets(
        [listing("A"), wholesale],
        {("A", SITE): 10, ("A", "Wholesale"): 10},
        {},
        [OpenOrderUnits("A", None, 3, True), OpenOrderUnits("A", SITE, 1, True)],
        RECIPES,
        [SITE, "Wholesale"],
    )
    assert [t.quantity for t in targets] == [6, 7]


def test_committed_is_summed_over_every_listing_of_a_sku() -> None:
    """A second variant of SKU A (a duplicated product, keyed "A (variant 2)"). Its order of 3 is
    past allocation; the first variant just sold 2 the ledger has not read. Orders are counted per
    SKU, so `committed` is too: compared listing by listing, the copy's 3 units hid the 2 (the first
    variant offered 10 with 8 allowed) and the copy's own `committed` reserved a made-up item."""
    first = listing("A")
    copy = Listing(listing_key("A", "gid://shopify/ProductVariant/2", False), "item-A2", LOC, SITE,
                   RECIPES["A"], NO_BUFFER)  # fmt: skip
    assert copy.sku == "A (variant 2)" and sku_of_key(copy.sku) == "A" and sku_of_key("A") == "A"
    targets = plan_targets(
        [first, copy],
        {("A", SITE): 10},
        {("A", LOC): 2, (copy.sku, LOC): 3},
        [OpenOrderUnits("A", SITE, 3, False)],
        RECIPES,
        [SITE],
    )
    assert [(t.listing.sku, t.quantity, t.reserved) for t in targets] == [
        ("A", 8, 2),
        ("A (variant 2)", 8, 2),
    ]


@PROPERTY
@given(
    st.integers(0, 30),
    st.lists(st.integers(0, 10), min_size=1, max_size=4),
    st.integers(0, 10),
    st.integers(0, 10),
)
def test_splitting_a_skus_committed_over_its_variants_moves_no_target(  # type: ignore[no-untyped-def]
    available, committed, awaiting, elsewhere
) -> None:
    """However Shopify's `committed` of a SKU falls over its variants, every variant's target is the
    one a single listing with all of it gets."""
    one = listing("A")
    alone = plan_targets(
        [one], {("A", SITE): available}, {("A", LOC): sum(committed)},
        [OpenOrderUnits("A", SITE, awaiting, True), OpenOrderUnits("A", SITE, elsewhere, False)],
        RECIPES, [SITE],
    )  # fmt: skip
    variants = [one] + [
        Listing(listing_key("A", f"gid://shopify/ProductVariant/{i}", False), f"item-A{i}", LOC, SITE,
                RECIPES["A"], NO_BUFFER)
        for i in range(1, len(committed))
    ]  # fmt: skip
    split = plan_targets(
        variants, {("A", SITE): available},
        {(v.sku, LOC): c for v, c in zip(variants, committed, strict=True)},
        [OpenOrderUnits("A", SITE, awaiting, True), OpenOrderUnits("A", SITE, elsewhere, False)],
        RECIPES, [SITE],
    )  # fmt: skip
    assert {t.quantity for t in split} == {alone[0].quantity}


@PROPERTY
@given(
    st.integers(-5, 60),
    st.integers(-5, 60),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(0, 3),
)
def test_bundle_target_never_needs_more_than_any_component_has(a, b, held_a, held_b, buffer) -> None:  # type: ignore[no-untyped-def]
    available = {("A", SITE): a, ("B", SITE): b}
    held = {("A", SITE): held_a, ("B", SITE): held_b}
    target = target_for(listing("BOX", buffer), available, held)
    assert target is not None and target.quantity >= 0
    for code, per_unit in RECIPES["BOX"]:
        assert target.quantity * per_unit <= max(0, available[(code, SITE)] - held[(code, SITE)])
    if buffer == 0 and target.quantity > 0:  # tight: one more set would need a unit that is not there
        assert any(
            (target.quantity + 1) * k > available[(c, SITE)] - held[(c, SITE)] for c, k in RECIPES["BOX"]
        )


class OversellWorld(RuleBasedStateMachine):
    """Shopify, Peoplevox and a lagging ledger; pushes use only what the stock flow can see.

    Checked after every step: no SKU shows more than Peoplevox available − units on orders Peoplevox
    has not allocated, except for what changed since the last push (sales of another SKU sharing a
    component, stock the warehouse lost) and units of orders Shopify cancelled and restocked that
    Peoplevox still holds allocated (they come back when the cancellation reaches it).
    """

    @initialize(stock=st.fixed_dictionaries({c: st.integers(0, 12) for c in "ABC"}))
    def start(self, stock: dict[str, int]) -> None:
        self.on_hand = Counter(stock)
        self.allocated: Counter[str] = Counter()
        self.shown: Counter[str] = Counter()  # Shopify available per SKU
        self.committed: Counter[str] = Counter()
        self.orders: dict[int, dict] = {}
        self.slack: Counter[tuple[str, str]] = Counter()  # (sku, code) → units since the last push
        self.buffers = {sku: 0 for sku in RECIPES}
        self.pushed = False

    # -- the world ---------------------------------------------------------------------------
    def _exploded(self, order: dict) -> Counter[str]:
        units: Counter[str] = Counter()
        for code, k in RECIPES[order["sku"]]:
            units[code] += k * order["units"]
        return units

    @rule(sku=st.sampled_from(sorted(RECIPES)), units=st.integers(1, 3))
    def customer_buys(self, sku: str, units: int) -> None:
        if self.shown[sku] < units:  # checkout refuses what Shopify does not show
            return
        self.shown[sku] -= units
        self.committed[sku] += units
        order = {"sku": sku, "units": units, "stage": "shopify", "ledger": None, "cancelled": False}
        self.orders[len(self.orders)] = order
        for code, k in RECIPES[sku]:
            for other in RECIPES:
                if other != sku:
                    self.slack[(other, code)] += k * units

    @rule(data=st.data())
    def ledger_reads_orders(self, data: st.DataObject) -> None:
        for order in self.orders.values():
            if data.draw(st.booleans()):
                order["ledger"] = {
                    "cancelled": order["cancelled"],
                    "allocated": order["stage"] in ("allocated", "fulfilled"),
                    "fulfilled": order["stage"] == "fulfilled",
                }

    @rule(index=st.integers(0, 30))
    def release_and_allocate(self, index: int) -> None:
        order = self.orders.get(index)
        if order is None or order["cancelled"] or order["stage"] != "shopify" or order["ledger"] is None:
            return
        need = self._exploded(order)
        if all(self.on_hand[c] - self.allocated[c] >= n for c, n in need.items()):
            self.allocated.update(need)
            order["stage"] = "allocated"

    @rule(index=st.integers(0, 30))
    def despatch_and_fulfil(self, index: int) -> None:
        order = self.orders.get(index)
        if order is None or order["stage"] != "allocated" or order["cancelled"]:
            return
        need = self._exploded(order)
        self.allocated.subtract(need)
        self.on_hand.subtract(need)
        self.committed[order["sku"]] -= order["units"]
        order["stage"] = "fulfilled"
        order["ledger"] = {"cancelled": False, "allocated": True, "fulfilled": True}

    @rule(index=st.integers(0, 30))
    def shopify_cancels_with_restock(self, index: int) -> None:
        order = self.orders.get(index)
        if order is None or order["cancelled"] or order["stage"] == "fulfilled":
            return
        order["cancelled"] = True
        self.committed[order["sku"]] -= order["units"]
        self.shown[order["sku"]] += order["units"]
        # Shopify's own restock may put back units the warehouse has lost since the last push (a
        # count found the shelf short): only the next push can correct that, as for any stock move.
        for code, per_unit in RECIPES[order["sku"]]:
            self.slack[(order["sku"], code)] += order["units"] * per_unit

    @rule(index=st.integers(0, 30))
    def warehouse_hears_of_the_cancel(self, index: int) -> None:
        order = self.orders.get(index)
        if order is None or not order["cancelled"] or order["stage"] == "warehouse_cancelled":
            return
        if order["stage"] == "allocated":
            self.allocated.subtract(self._exploded(order))
        order["stage"] = "warehouse_cancelled"

    @rule(code=st.sampled_from("ABC"), change=st.integers(-3, 6))
    def warehouse_moves_stock(self, code: str, change: int) -> None:
        change = max(change, -(self.on_hand[code] - self.allocated[code]))
        self.on_hand[code] += change
        if change < 0:
            for sku in RECIPES:
                self.slack[(sku, code)] += -change

    @rule(sku=st.sampled_from(sorted(RECIPES)), buffer=st.integers(0, 2))
    def merchant_sets_buffer(self, sku: str, buffer: int) -> None:
        self.buffers[sku] = buffer

    @rule()
    def stock_push(self) -> None:
        """What the stock flow does, from what it can see: Peoplevox, the ledger, Shopify levels."""
        units = [
            OpenOrderUnits(
                o["sku"],
                SITE,
                o["units"],
                awaiting_allocation=not o["ledger"]["allocated"],
            )
            for o in self.orders.values()
            if o["ledger"] is not None and not o["ledger"]["cancelled"] and not o["ledger"]["fulfilled"]
        ]
        available = {(c, SITE): self.on_hand[c] - self.allocated[c] for c in "ABC"}
        listings = [listing(sku, self.buffers[sku]) for sku in RECIPES]
        committed = {(sku, LOC): self.committed[sku] for sku in RECIPES}
        for target in plan_targets(listings, available, committed, units, RECIPES, [SITE]):
            self.shown[target.listing.sku] = target.quantity
        self.slack.clear()
        self.pushed = True

    # -- the invariant -----------------------------------------------------------------------
    def allowed(self, sku: str) -> int:
        awaiting: Counter[str] = Counter()
        coming_back: Counter[str] = Counter()
        for order in self.orders.values():
            if order["stage"] == "shopify" and not order["cancelled"]:
                awaiting.update(self._exploded(order))
            if order["stage"] == "allocated" and order["cancelled"]:
                coming_back.update(self._exploded(order))
        return max(
            0,
            min(
                (self.on_hand[c] - self.allocated[c] + coming_back[c] - awaiting[c] + self.slack[(sku, c)])
                // k
                for c, k in RECIPES[sku]
            ),
        )

    @invariant()
    def shopify_never_shows_more_than_the_warehouse_can_allocate(self) -> None:
        if not hasattr(self, "shown"):
            return
        for sku in RECIPES:
            assert self.shown[sku] <= self.allowed(sku), (sku, self.shown[sku], self.allowed(sku))

    @precondition(lambda self: hasattr(self, "orders"))
    @rule()
    def ledger_caught_up_push_is_exact(self) -> None:
        """With the ledger up to date and no buffers, a push shows exactly what can be allocated."""
        for order in self.orders.values():
            order["ledger"] = {
                "cancelled": order["cancelled"],
                "allocated": order["stage"] in ("allocated", "fulfilled"),
                "fulfilled": order["stage"] == "fulfilled",
            }
        if any(o["cancelled"] and o["stage"] == "allocated" for o in self.orders.values()):
            return  # units coming back are allowed, not shown
        saved = dict(self.buffers)
        self.buffers = dict.fromkeys(RECIPES, 0)
        self.stock_push()
        self.buffers = saved
        for sku in RECIPES:
            assert self.shown[sku] == self.allowed(sku), (sku, self.shown[sku], self.allowed(sku))


TestOversellWorld = OversellWorld.TestCase
TestOversellWorld.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)
