"""Lost and duplicated effects, from what both sandboxes hold at the end of a rehearsal.

Pure functions over plain data (no I/O), one per kind of effect. Each answers two counts:
`lost` (an effect the product owed and that is not there) and `duplicated` (an effect there
more often than owed, or there when it must not be). The figures come from the systems
themselves (Peoplevox's sales orders and packages, Shopify's orders, fulfilments, emails and
inventory writes), never from the ledger's own view of what it did.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

KINDS: tuple[str, ...] = ("orders", "cancellations", "edits", "fulfilments", "emails", "stock_writes")


@dataclass(frozen=True)
class Tally:
    lost: int = 0
    duplicated: int = 0
    examples: tuple[str, ...] = ()  # a few of the effects behind the counts, for the report


def _examples(*groups: Iterable[str], each: int = 3) -> tuple[str, ...]:
    """A few of each group (missing, doubled, …), so every cause behind a count shows."""
    return tuple(x for group in groups for x in sorted(group)[:each])


def orders(
    owed: Iterable[str], sales_orders_per_order: Mapping[str, int], unexpected: Iterable[str] = ()
) -> Tally:
    """`owed`: Shopify orders (by name) that must be in Peoplevox once; `sales_orders_per_order`:
    how many Peoplevox sales orders carry each Shopify order; `unexpected`: sales orders for no
    order that was placed."""
    owed = set(owed)
    missing = {o for o in owed if sales_orders_per_order.get(o, 0) == 0}
    doubled = {o: n for o, n in sales_orders_per_order.items() if n > 1}
    extra = set(unexpected)
    return Tally(
        lost=len(missing),
        duplicated=sum(n - 1 for n in doubled.values()) + len(extra),
        examples=_examples(
            (f"missing {o}" for o in missing),
            (f"{o} ×{n}" for o, n in doubled.items()),
            (f"unexpected {o}" for o in extra),
        ),
    )


def cancellations(cancelled: Iterable[str], warehouse_status: Mapping[str, str]) -> Tally:
    """Orders cancelled in Shopify inside the hold window: none may be live in Peoplevox (absent
    or Cancelled there). A live one is a cancellation lost."""
    live = {o for o in cancelled if warehouse_status.get(o) not in (None, "Cancelled")}
    return Tally(lost=len(live), examples=_examples(f"{o} {warehouse_status[o]}" for o in live))


def edits(wanted: Mapping[str, Counter[str]], in_warehouse: Mapping[str, Counter[str]]) -> Tally:
    """Edited orders: units per item Shopify now holds vs units Peoplevox was asked to pick.
    Units short are lost, units over are duplicated; an edited order not in Peoplevox is not
    counted here (`orders` counts it)."""
    lost = duplicated = 0
    wrong = []
    for order, want in wanted.items():
        have = in_warehouse.get(order)
        if have is None:
            continue
        short = sum((want - have).values())
        over = sum((have - want).values())
        lost, duplicated = lost + short, duplicated + over
        if short or over:
            wrong.append(f"{order} wants {dict(want)} has {dict(have)}")
    return Tally(lost=lost, duplicated=duplicated, examples=_examples(wrong))


def fulfilments(packages: Iterable[str], fulfilled_tracking: Iterable[str]) -> Tally:
    """Each Peoplevox package (by tracking number) must be on one Shopify fulfilment, among its
    numbers (`fulfilled_tracking`: every number of every fulfilment; a bundle's pooled parcels ride
    on the fulfilment that completes it); a tracking number on two fulfilments, or one no package
    has, is a duplicate."""
    packages = set(packages)
    seen = Counter(fulfilled_tracking)
    missing = packages - set(seen)
    doubled = {t: n for t, n in seen.items() if n > 1}
    stray = set(seen) - packages
    return Tally(
        lost=len(missing),
        duplicated=sum(n - 1 for n in doubled.values()) + sum(seen[t] for t in stray),
        examples=_examples(
            (f"package {t} not fulfilled" for t in missing),
            (f"{t} ×{n}" for t, n in doubled.items()),
            (f"stray {t}" for t in stray),
        ),
    )


def emails(notified_fulfilments: Iterable[str], confirmation_emails: Iterable[str]) -> Tally:
    """One shipping confirmation per fulfilment created with notifyCustomer."""
    owed = set(notified_fulfilments)
    sent = Counter(confirmation_emails)
    missing = owed - set(sent)
    extra = {f: n - (1 if f in owed else 0) for f, n in sent.items() if n > (1 if f in owed else 0)}
    return Tally(
        lost=len(missing),
        duplicated=sum(extra.values()),
        examples=_examples((f"no email for {f}" for f in missing), (f"{f} +{n}" for f, n in extra.items())),
    )


def request_key(applied_key: str) -> str:
    """The ledger's key for a write Shopify applied: the client sends chunk i of a request as `key:i`."""
    base, _, chunk = applied_key.rpartition(":")
    return base if base and chunk.isdigit() else applied_key


@dataclass(frozen=True)
class StockView:
    shown: int  # Shopify's available at the location
    target: int  # what the warehouse's figures say Shopify should show


def stock_writes(levels: Mapping[str, StockView], applied_keys: Iterable[str | None],
                 recorded_applied: Mapping[str, bool]) -> Tally:  # fmt: skip
    """After the drain every SKU's Shopify figure is its target (one that is not is a change that
    never reached Shopify: lost). Every write Shopify applied (by idempotency key) must be one the
    ledger records as applied, once: applied twice, under no key, or behind the ledger's back
    (recorded stale, refused or unknown) is a write the product may make again: duplicated."""
    off = {sku: v for sku, v in levels.items() if v.shown != v.target}
    keys = Counter(applied_keys)
    doubled = {k: n for k, n in keys.items() if k and n > 1}
    unrecorded = {k or "(no key)": n for k, n in keys.items()
                  if not k or not recorded_applied.get(request_key(k), False)}  # fmt: skip
    return Tally(
        lost=len(off),
        duplicated=sum(n - 1 for n in doubled.values()) + sum(unrecorded.values()),
        examples=_examples(
            (f"{s} shows {v.shown}, target {v.target}" for s, v in off.items()),
            (f"{k} applied ×{n}" for k, n in doubled.items()),
            (f"{k} applied, not recorded applied" for k in unrecorded),
        ),
    )


@dataclass
class Accounting:
    tallies: dict[str, Tally] = field(default_factory=dict)

    @property
    def lost(self) -> dict[str, int]:
        return {k: self.tallies.get(k, Tally()).lost for k in KINDS}

    @property
    def duplicated(self) -> dict[str, int]:
        return {k: self.tallies.get(k, Tally()).duplicated for k in KINDS}

    @property
    def clean(self) -> bool:
        return not any(self.lost.values()) and not any(self.duplicated.values())
