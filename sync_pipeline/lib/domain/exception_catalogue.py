"""Every exception kind the product can record: who owns it, what it means, what to do, how it clears.

This is the one list. `docs/runbook.md` is generated from it (`sync-pipeline runbook --write`; a
test fails when they disagree), the ranked exception list reads owners and weights from it, and
recording a kind that is not here fails (`ExceptionRecord` checks it), so a new flow registers its
kinds here before it can open one.

To add a kind: add a `KindInfo` to `CATALOGUE` below, run `sync-pipeline runbook --write`, commit both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Owner(StrEnum):
    """The team that acts on an exception."""

    WAREHOUSE_OPS = "warehouse_ops"
    CX = "cx"
    FINANCE = "finance"
    INTEGRATION = "integration"


OWNER_TITLES: dict[Owner, str] = {
    Owner.WAREHOUSE_OPS: "Warehouse ops",
    Owner.CX: "CX",
    Owner.FINANCE: "Finance",
    Owner.INTEGRATION: "Integration",
}

# Rows written before the owners were named as in the issue ("engineering" became "integration").
LEGACY_OWNERS: dict[str, Owner] = {"engineering": Owner.INTEGRATION}


class Clears(StrEnum):
    AUTOMATICALLY = "automatically"  # a re-check in a flow's run closes it, with the event that cleared it
    BY_A_PERSON = "by a person"  # `sync-pipeline exceptions resolve ID --note …` after acting


class Delays(StrEnum):
    """What the problem holds up, which decides how the impact score treats time."""

    DESPATCH = "despatch"  # the parcel does not leave (order not in the warehouse, or stuck there)
    CUSTOMER_NOTICE = "customer notice"  # parcel left, but Shopify/customer not told (fulfilment, tracking)
    STOCK = "stock accuracy"  # Shopify shows the wrong quantity: oversell or lost sales
    MONEY = "money"  # goods or revenue to recover; no parcel waits on it


@dataclass(frozen=True)
class KindInfo:
    kind: str
    flow: str  # orders | despatches | stock | finance | integration
    owner: Owner
    meaning: str
    action: str
    clears: Clears
    how_it_clears: str
    delays: Delays
    # 1 (worth a look) … 5 (stops business): the base of the impact score (lib/domain/impact.py).
    weight: int
    # The problem stops a whole flow for the store (not one order or SKU): always P1, and its
    # value at risk is a day of the store's sales (lib/domain/impact.py).
    stops_flow: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.weight <= 5:
            raise ValueError(f"{self.kind}: weight must be 1..5, got {self.weight}")


class UnknownExceptionKindError(ValueError):
    """A flow tried to record a kind nobody registered: no owner, no runbook entry."""


_ENTRIES: tuple[KindInfo, ...] = (
    # ---- orders (Shopify → Peoplevox), docs/orders_flow.md
    KindInfo(
        "unmapped_sku", "orders", Owner.WAREHOUSE_OPS,
        "A line's SKU (after overrides and bundle explosion) is no Peoplevox item type, so the order is held.",
        "Create the item type in Peoplevox, or add an override in `data/config/sku_overrides.yaml`.",
        Clears.AUTOMATICALLY,
        "The release run re-checks held orders every run: once the SKU maps, the order goes to Peoplevox "
        "and the exception closes (\"accepted by Peoplevox\"). An edit or cancellation in Shopify also re-evaluates it.",
        Delays.DESPATCH, 4,
    ),
    KindInfo(
        "bad_address", "orders", Owner.CX,
        "The shipping address lacks what Peoplevox needs (the message names the field), so the order is held.",
        "Fix the address in Shopify (or ask the customer).",
        Clears.AUTOMATICALLY,
        "The edit in Shopify is ingested, the order is re-evaluated and released; the exception closes when "
        "Peoplevox accepts it.",
        Delays.DESPATCH, 4,
    ),
    KindInfo(
        "injection_failed", "orders", Owner.WAREHOUSE_OPS,
        "Peoplevox refused the sales order; the message is Peoplevox's own text.",
        "Fix the cause (service type, site, item) in Peoplevox or Shopify, then edit the order in Shopify "
        "or re-send it (runbook: \"Re-send one order\").",
        Clears.AUTOMATICALLY,
        "Closes when a later release run gets the order accepted by Peoplevox, or the order is cancelled.",
        Delays.DESPATCH, 5,
    ),
    KindInfo(
        "change_after_cutoff", "orders", Owner.CX,
        "Shopify changed an order the warehouse is already working on (at or past the cut-off status); "
        "nothing was pushed. The message says what changed and what Peoplevox has.",
        "Contact the warehouse: apply the change by hand if the parcel has not left, else tell the customer.",
        Clears.BY_A_PERSON,
        "Only a person knows the change was handled: resolve it with a note once done.",
        Delays.DESPATCH, 3,
    ),
    KindInfo(
        "needs_manual_edit", "orders", Owner.CX,
        "A change Peoplevox cannot apply safely in part (removing or lowering an item, moving site).",
        "Edit the sales order in Peoplevox by hand to match Shopify.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the sales order in Peoplevox matches Shopify.",
        Delays.DESPATCH, 3,
    ),
    KindInfo(
        "change_failed", "orders", Owner.CX,
        "Peoplevox refused a change we pushed, or Shopify no longer returns the changed order.",
        "As the message says; check the sales order in Peoplevox by hand.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the sales order in Peoplevox is right.",
        Delays.DESPATCH, 3,
    ),
    KindInfo(
        "unsendable_text", "orders", Owner.INTEGRATION,
        "A value of the sales order holds a character no Peoplevox request can carry (XML 1.0 forbids it) "
        "even after cleaning; the message names the column. Customer text is cleaned, so this is a "
        "configuration value (a route's site, channel or service). The order is held; the others go on.",
        "Correct the value the message names (usually in `data/config/routing.yaml`).",
        Clears.AUTOMATICALLY,
        "The release run re-checks held orders every run: once the value is sendable the order goes to "
        "Peoplevox and the exception closes.",
        Delays.DESPATCH, 4,
    ),
    KindInfo(
        "cancel_not_confirmed", "orders", Owner.CX,
        "We asked Peoplevox to cancel a sales order and it accepted the request, but reading the order back "
        "it is not cancelled (a tenant where only people can cancel).",
        "Cancel the sales order in Peoplevox by hand before it ships.",
        Clears.AUTOMATICALLY,
        "Closes when a later run reads the order back as Cancelled in Peoplevox.",
        Delays.MONEY, 4,
    ),
    KindInfo(
        "cancelled_by_warehouse", "orders", Owner.CX,
        "Peoplevox reports the sales order as Cancelled while Shopify still wants it shipped: nothing will ship.",
        "Cancel and refund the order in Shopify, or have the warehouse re-create the sales order.",
        Clears.AUTOMATICALLY,
        "Closes when the order is cancelled (or fully refunded) in Shopify too; otherwise resolve it with a note.",
        Delays.DESPATCH, 4,
    ),
    # ---- despatches (Peoplevox → Shopify), docs/despatches_flow.md
    KindInfo(
        "fulfillment_on_hold", "despatches", Owner.CX,
        "The order's fulfilment order is on hold in Shopify, so a despatched package cannot be fulfilled.",
        "Release the hold in Shopify (the next run fulfils the package) or fulfil by hand.",
        Clears.AUTOMATICALLY,
        "The fulfil run re-checks blocked packages every run; the exception closes when the package is "
        "fulfilled (or found fulfilled by hand), or its order is cancelled.",
        Delays.CUSTOMER_NOTICE, 4,
    ),
    KindInfo(
        "fulfillment_order_closed", "despatches", Owner.CX,
        "The fulfilment order is closed or incomplete, or at another location than the rest of the package "
        "and Shopify will not move it (no MOVE in its supported actions, or the move was refused).",
        "Reopen the fulfilment order (or mark it open, so it can be moved) in Shopify, or fulfil by hand.",
        Clears.AUTOMATICALLY,
        "Closes when the package is fulfilled or found fulfilled by hand (re-checked every fulfil run).",
        Delays.CUSTOMER_NOTICE, 4,
    ),
    KindInfo(
        "fulfilment_refused", "despatches", Owner.CX,
        "Shopify refused the fulfilment; the message is Shopify's.",
        "As the message says; the package is tried again each run.",
        Clears.AUTOMATICALLY,
        "Closes when a later fulfil run gets the package into Shopify.",
        Delays.CUSTOMER_NOTICE, 4,
    ),
    KindInfo(
        "despatch_for_unknown_order", "despatches", Owner.WAREHOUSE_OPS,
        "Peoplevox despatched a sales order this integration never sent.",
        "Check the order in Peoplevox (created by hand, or by another channel).",
        Clears.AUTOMATICALLY,
        "Closes when a later read finds the sales order is one of ours; otherwise resolve it with a note.",
        Delays.CUSTOMER_NOTICE, 2,
    ),
    KindInfo(
        "shipped_after_cancel", "despatches", Owner.CX,
        "The order was cancelled in Shopify but the warehouse shipped a package.",
        "Contact the customer about the parcel.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the customer has been contacted.",
        Delays.MONEY, 3,
    ),
    KindInfo(
        "shipped_after_cancel_refunded", "despatches", Owner.FINANCE,
        "The same package, for the money: the cancelled order was refunded and the goods left anyway.",
        "Recover the goods or charge for them.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the goods are recovered or charged for.",
        Delays.MONEY, 3,
    ),
    KindInfo(
        "over_despatched", "despatches", Owner.WAREHOUSE_OPS,
        "A package held more units than were ordered; the extra units were not fulfilled in Shopify.",
        "Check what left the warehouse; correct stock if the units did not ship.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once checked.",
        Delays.MONEY, 2,
    ),
    KindInfo(
        "despatch_changed_after_fulfilment", "despatches", Owner.WAREHOUSE_OPS,
        "Peoplevox re-reported a package with other lines after it went to Shopify with the old ones, "
        "or while it was being sent; Shopify's fulfilment was left as it is (a changed tracking number "
        "is updated in Shopify instead).",
        "Check what left the warehouse in that package; correct the fulfilment in Shopify or stock if the "
        "lines Shopify shows did not ship.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once checked. One raised while the package was being sent closes by "
        "itself if Shopify turns out to hold no fulfilment of it (the new lines go) or Peoplevox reports "
        "the old lines again.",
        Delays.MONEY, 2,
    ),
    KindInfo(
        "order_edit_not_read", "despatches", Owner.INTEGRATION,
        "Shopify holds other lines for an order (an edit, a refund) than the ledger's copy, for longer "
        "than `order_catch_up_minutes`: its despatched packages wait, as planning them against the old "
        "lines would account for units the order no longer has.",
        "Check that the orders flow is running (`shopify/orders` ingest, its sensor and webhooks) and "
        "reads this order; the packages go as soon as the ledger has the change.",
        Clears.AUTOMATICALLY,
        "Closes when the package no longer waits (the ledger has the change, or the order was cancelled).",
        Delays.CUSTOMER_NOTICE, 2,
    ),
    KindInfo(
        "tracking_missing", "despatches", Owner.WAREHOUSE_OPS,
        "No tracking number `tracking_wait_minutes` after the despatch.",
        "Get the number into Peoplevox; it is added in Shopify when it comes.",
        Clears.AUTOMATICALLY,
        "Closes when the tracking number reaches Shopify (with the fulfilment or as a later update).",
        Delays.CUSTOMER_NOTICE, 3,
    ),
    KindInfo(
        "tracking_refused", "despatches", Owner.WAREHOUSE_OPS,
        "Shopify refused a tracking number added to a fulfilment after it was created (the package "
        "is fulfilled in Shopify; only the number is missing there).",
        "Check the number and carrier in Peoplevox; add the right number to the fulfilment in Shopify "
        "by hand (order → fulfilment → Add tracking). The flow does not offer that number again.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once Shopify shows the right number.",
        Delays.CUSTOMER_NOTICE, 3,
    ),
    KindInfo(
        "fulfilment_cancelled_in_shopify", "despatches", Owner.CX,
        "Someone cancelled one of our fulfilments in Shopify (the admin's Cancel fulfillment) after we made "
        "it, while Peoplevox says the parcel left the warehouse: the customer's order no longer shows it as "
        "shipped. The flow does not fulfil the package again by itself (that would send a second shipping email).",
        "Find out why it was cancelled. If the parcel is on its way, fulfil its lines again in Shopify by hand "
        "(choosing whether to email the customer); if it came back or was lost, handle the return or "
        "refund. Then resolve it with a note.",
        Clears.BY_A_PERSON,
        "Only a person knows what the customer should be told: resolve it with a note once done. The "
        "package stays `cancelled_in_shopify` in the ledger.",
        Delays.CUSTOMER_NOTICE, 3,
    ),
    KindInfo(
        "fulfilled_twice", "despatches", Owner.CX,
        "Shopify holds two fulfilments of one package: two fulfil runs sent it (one's answer came "
        "back after the other had taken the package over). The customer may have had two shipping emails.",
        "Cancel the fulfilment the message names as the second in Shopify; tell the customer if they "
        "had two emails.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the second fulfilment is cancelled.",
        Delays.CUSTOMER_NOTICE, 3,
    ),
    KindInfo(
        "unknown_carrier", "despatches", Owner.INTEGRATION,
        "A carrier/service with no rule in `carriers.yaml`: sent to Shopify under that name, without a tracking link.",
        "Add the rule to `data/config/carriers.yaml`.",
        Clears.BY_A_PERSON,
        "Resolve it with a note once the rule is added (packages already sent keep their name).",
        Delays.CUSTOMER_NOTICE, 2,
    ),
    KindInfo(
        "despatch_unreadable", "despatches", Owner.WAREHOUSE_OPS,
        "Peoplevox's Despatch summary shows a package with no despatch date, or with a row that does not read "
        "(the message says which); the package is held whole: not recorded, not fulfilled. Other packages go on.",
        "Check the despatch in Peoplevox; if it looks right there, tell integration (the report is not as expected).",
        Clears.AUTOMATICALLY,
        "Every read asks Peoplevox for the package again by number; the exception closes when all its rows read "
        "whole, and the package is then fulfilled as usual.",
        Delays.CUSTOMER_NOTICE, 3,
    ),
    KindInfo(
        "fulfilled_away_from_warehouse", "despatches", Owner.WAREHOUSE_OPS,
        "The warehouse shipped a package whose lines Shopify had at another location (a store) and would not "
        "move to the warehouse's location (no MOVE offered, or the move refused: the message says why). It was "
        "fulfilled there so the customer got the shipping email, and Shopify took those units off that "
        "location's stock although they never left it.",
        "Add the units back to that location's stock in Shopify; find out why its fulfilment order could not "
        "move (progress reported, the warehouse location not stocking the item).",
        Clears.BY_A_PERSON,
        "Resolve it with a note once that location's stock is corrected. It closes by itself if Shopify refused "
        "that fulfilment or it was never sent (nothing was taken off that stock).",
        Delays.STOCK, 2,
    ),
    KindInfo(
        "fulfilment_location_unknown", "despatches", Owner.INTEGRATION,
        "`stock.yaml` maps a Peoplevox site to a Shopify location name that Shopify has no active location "
        "for, so despatches from that site cannot be fulfilled from the warehouse's location: they are "
        "fulfilled wherever Shopify assigned their lines (its stock there goes down instead).",
        "Correct the name in `data/config/stock.yaml` `locations` (as the Shopify admin spells it), or "
        "reactivate the location.",
        Clears.AUTOMATICALLY,
        "Every fulfil run that has packages to plan reads Shopify's locations; the exception closes when the "
        "name matches one.",
        Delays.STOCK, 3,
    ),
    # ---- stock (Peoplevox → Shopify), docs/stock_flow.md
    KindInfo(
        "stock_feed_suspect", "stock", Owner.WAREHOUSE_OPS,
        "The circuit breaker held back a Peoplevox stock snapshot: too many items would drop to zero (in "
        "one read, or over several small incremental reads in a row), or total available fell too far "
        "(the message gives the figures). Nothing is pushed to Shopify "
        "while it is open; Shopify keeps the last good figures.",
        "`sync-pipeline stock suspects`, then check a few of the named items in Peoplevox. If the figures "
        "are real (a stock-take, a big despatch day): `sync-pipeline stock accept --by NAME`. If Peoplevox "
        "was wrong (a maintenance window, a broken report): leave it; the next plausible full snapshot clears it.",
        Clears.AUTOMATICALLY,
        "Closes when a later full snapshot (the hourly reconcile) is plausible against the last accepted one, or when a person accepts "
        "the held snapshot (`sync-pipeline stock accept`); pushes resume on the next run.",
        Delays.STOCK, 5, stops_flow=True,
    ),
    KindInfo(
        "inventory_location_mismatch", "stock", Owner.WAREHOUSE_OPS,
        "A Peoplevox site holds stock and pairs with no Shopify location, or a Shopify location holds "
        "stock of our SKUs and pairs with no site (`data/config/stock.yaml`, `locations`); its stock is "
        "not published.",
        "Add the pairing to `data/config/stock.yaml`, or move the stock, or deactivate the location in Shopify.",
        Clears.AUTOMATICALLY,
        "Every full reconcile (hourly) re-checks the pairings; the exception closes when the site or "
        "location pairs, or holds no stock.",
        Delays.STOCK, 3,
    ),
    KindInfo(
        "stock_push_refused", "stock", Owner.INTEGRATION,
        "Shopify refused to set a SKU's available quantity at a location (the message is Shopify's: "
        "an untracked item, a location it is not stocked at, a bundle parent).",
        "As the message says: track the item's inventory or stock it at the location in Shopify, or "
        "exclude the SKU; the hourly reconcile tries again.",
        Clears.AUTOMATICALLY,
        "Closes when a later push of that SKU and location is applied (the hourly reconcile retries it).",
        Delays.STOCK, 3,
    ),
    KindInfo(
        "stock_untracked_variant", "stock", Owner.WAREHOUSE_OPS,
        "A Shopify variant whose SKU is stocked in Peoplevox does not track its inventory in Shopify, so "
        "no stock is published for it and Shopify sells it without limit (an oversell once the warehouse "
        "runs out). Untracked variants of no Peoplevox item (gift cards, digital goods) are only counted "
        "(`untracked_variants` in the push's metadata).",
        "Turn on \"Track quantity\" for the variant in the Shopify admin (the next hourly reconcile "
        "publishes its stock), or, if it is meant to sell without limit, resolve it with a note.",
        Clears.AUTOMATICALLY,
        "Every full reconcile (hourly) re-checks the catalogue; it closes when the variant is tracked, "
        "gone from Shopify, or its SKU no longer maps to a Peoplevox item.",
        Delays.STOCK, 3,
    ),
    KindInfo(
        "finance_order_unreadable", "finance", Owner.FINANCE,
        "Shopify holds more of one order (refunds, transactions or fulfilments) than any query under "
        "its 1,000-point cost cap can read whole; its money is not written (the ledger keeps the last "
        "whole read, if any), so the reconciliation never shows the order undercounted.",
        "Reconcile the order by hand from Shopify's admin (the message names it and what was too many); "
        "tell integration if it recurs.",
        Clears.AUTOMATICALLY,
        "Every money read asks Shopify for the held orders again by id; it closes when the order "
        "reads whole (and its money is then written as usual).",
        Delays.MONEY, 2,
    ),
)  # fmt: skip

CATALOGUE: dict[str, KindInfo] = {entry.kind: entry for entry in _ENTRIES}
if len(CATALOGUE) != len(_ENTRIES):
    raise RuntimeError("exception catalogue: a kind is listed twice")


def info(kind: str) -> KindInfo:
    """The catalogue entry of `kind`, or UnknownExceptionKindError naming what to do."""
    try:
        return CATALOGUE[kind]
    except KeyError:
        raise UnknownExceptionKindError(
            f"exception kind {kind!r} is not in the catalogue: register it in "
            "sync_pipeline/lib/domain/exception_catalogue.py (owner, meaning, action, how it clears) "
            "and regenerate docs/runbook.md"
        ) from None


def owner_of(kind: str) -> Owner:
    return info(kind).owner


def check_record(kind: str, owner: str) -> None:
    """Refuse a kind nobody registered, or an owner other than the catalogue's."""
    expected = info(kind).owner
    if owner != expected.value:
        raise UnknownExceptionKindError(
            f"exception kind {kind!r} is owned by {expected.value!r} in the catalogue, not {owner!r}"
        )


def current_owner(kind: str, recorded_owner: str) -> str:
    """Who owns a stored row now: the catalogue's owner; for a kind no longer listed, the row's own."""
    entry = CATALOGUE.get(kind)
    if entry is not None:
        return entry.owner.value
    legacy = LEGACY_OWNERS.get(recorded_owner)
    return legacy.value if legacy else recorded_owner
