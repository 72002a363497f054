"""Where a package is fulfilled from: the warehouse's Shopify location, not wherever Shopify put it.

Pure: the plan and the location resolver, no sandbox. The warehouse shipped the parcel, so Shopify
must record it as fulfilled from the location `stock.yaml` maps the package's Peoplevox site to;
fulfilled at a store location, Shopify takes the units off that store's stock although they never
left it. (Until 2026-11-30 a package wholly at one other location was fulfilled there.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.domain.fulfilment import FulfilmentOrderLine, Move
from sync_pipeline.lib.domain.models import ShopLine, ShopOrder
from sync_pipeline.lib.flows.despatches import states
from sync_pipeline.lib.flows.despatches.decision import Decision
from sync_pipeline.lib.flows.despatches.locations import warehouse_locations
from sync_pipeline.lib.flows.despatches.plan import plan_order
from sync_pipeline.lib.flows.despatches.ports import OrderFulfilments
from sync_pipeline.lib.ledger.despatches import PackageRow

RULES = load_business_rules(Path(__file__).resolve().parents[2] / "data" / "config")
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
WAREHOUSE = {"PrimarySite": "loc-wh"}  # stock.yaml: PrimarySite → Warehouse
LOCATION_IDS = {"Warehouse": "loc-wh", "Shop": "loc-shop", "Outlet": "loc-outlet"}
ORDER = ShopOrder(
    id="order-1",
    name="#1001",
    created_at=NOW,
    updated_at=NOW,
    lines=(
        ShopLine(id="line-tee", sku="TEE-BLK-M", quantity=1),
        ShopLine(id="line-cap", sku="CAP-NVY", quantity=1),
    ),
)


def _package(site: str | None = "PrimarySite", items: dict[str, int] | None = None) -> PackageRow:
    return PackageRow(
        package_number="DES1-1", despatch_number="DES1", sales_order_number="SO1", shopify_order_id=ORDER.id,
        despatched_at=NOW, despatch_date=date(2026, 11, 30), carrier="Royal Mail", service=None, site=site,
        tracking_number="TRK1", tracking_seen_at=NOW, items=items or {"TEE-BLK-M": 1, "CAP-NVY": 1},
        state=states.PENDING, state_reason=None, line_quantities=None, first_seen_at=NOW, updated_at=NOW,
    )  # fmt: skip


def _fo(fo: str, line: str, location: str, movable: bool = True) -> FulfilmentOrderLine:
    return FulfilmentOrderLine(
        fo, f"{fo}-{line}", line, 1, LOCATION_IDS[location], True, "OPEN", location, movable
    )


def _plan(
    fo_lines: list[FulfilmentOrderLine], site: str | None = "PrimarySite", warehouses=WAREHOUSE
) -> Decision:  # type: ignore[no-untyped-def]
    shopify = OrderFulfilments(ORDER.id, False, tuple(fo_lines))
    [decision] = plan_order(ORDER, [_package(site)], shopify, RULES, NOW, warehouses)
    return decision


AT_SHOP = [_fo("fo-shop", "line-tee", "Shop"), _fo("fo-shop", "line-cap", "Shop")]


def test_a_package_wholly_at_a_store_location_is_moved_to_the_warehouse_first() -> None:
    d = _plan(AT_SHOP)
    assert d.state == states.MOVING and d.exceptions == []
    assert d.moves == [Move("fo-shop", "loc-wh", {"fo-shop-line-tee": 1, "fo-shop-line-cap": 1})]
    # Should Shopify refuse the move, it goes where it is (`move.py`), with that reason.
    assert d.instead is not None and d.instead.state == states.FULFILLING
    assert d.instead.location_id == "loc-shop" and d.instead.location_name == "Shop"


def test_a_package_at_the_warehouse_location_is_fulfilled_there() -> None:
    d = _plan([_fo("fo-wh", "line-tee", "Warehouse"), _fo("fo-wh", "line-cap", "Warehouse")])
    assert (d.state, d.location_id, d.moves, d.exceptions) == (states.FULFILLING, "loc-wh", [], [])
    assert d.placed == {"line-tee": 1, "line-cap": 1}  # the lines the fulfilment will show


def test_a_store_location_shopify_offers_no_move_for_is_fulfilled_there_with_an_exception() -> None:
    d = _plan([_fo("fo-shop", "line-tee", "Shop", movable=False), _fo("fo-shop", "line-cap", "Shop", False)])
    assert (d.state, d.location_id, d.moves) == (states.FULFILLING, "loc-shop", [])
    [problem] = d.exceptions
    assert (problem.kind, problem.owner, problem.subject) == (
        "fulfilled_away_from_warehouse",
        "warehouse_ops",
        "DES1-1",
    )
    assert "Shop" in problem.message and "stock" in problem.message and "no MOVE" in problem.message


def test_a_site_stock_yaml_does_not_map_or_shopify_does_not_know_is_fulfilled_where_it_is() -> None:
    # The run raises `fulfilment_location_unknown` once for an unknown name, not once per package.
    for site, warehouses in (("Wholesale", WAREHOUSE), ("PrimarySite", {}), (None, WAREHOUSE)):
        d = _plan(AT_SHOP, site=site, warehouses=warehouses)
        assert (d.state, d.location_id, d.exceptions) == (states.FULFILLING, "loc-shop", []), site


def test_a_split_package_goes_to_the_warehouse_even_with_no_fulfilment_order_there() -> None:
    d = _plan([_fo("fo-shop", "line-tee", "Shop"), _fo("fo-outlet", "line-cap", "Outlet")])
    assert d.state == states.MOVING and {m.location_id for m in d.moves} == {"loc-wh"}
    assert d.instead is None  # it cannot be one fulfilment where it is: refused, it waits whole
    # Warehouse unknown: gathered where most of it is (here a tie, broken by location id).
    d = _plan([_fo("fo-shop", "line-tee", "Shop"), _fo("fo-outlet", "line-cap", "Outlet")], warehouses={})
    assert d.state == states.MOVING and {m.location_id for m in d.moves} == {"loc-shop"}


def test_stock_yaml_names_resolve_to_active_shopify_locations_and_an_unknown_one_is_an_exception() -> None:
    rules = RULES.model_copy(
        update={
            "stock": RULES.stock.model_copy(
                update={"locations": {"PrimarySite": "warehouse", "Backup": "Depot"}}
            )
        }
    )
    found, problems = warehouse_locations({"Warehouse": "loc-wh", "Shop": "loc-shop"}, rules)
    assert found == {"PrimarySite": "loc-wh"}  # names compare without case, as the admin shows them
    [problem] = problems
    assert (problem.kind, problem.owner, problem.subject) == (
        "fulfilment_location_unknown",
        "integration",
        "location:Depot",
    )
    assert "'Depot'" in problem.message and "'Backup'" in problem.message and "stock.yaml" in problem.message


def _mapped(name: str):  # type: ignore[no-untyped-def]
    return RULES.model_copy(
        update={"stock": RULES.stock.model_copy(update={"locations": {"PrimarySite": name}})}
    )


def test_the_location_named_exactly_wins_over_one_that_differs_only_in_case() -> None:
    """Shopify has "Warehouse" and "WAREHOUSE" (an old one, renamed by hand): stock.yaml's
    "Warehouse" is the first. Compared only without case, the last one read won, silently: every
    package was moved to, and fulfilled at, the other location."""
    found, problems = warehouse_locations(
        {"Warehouse": "loc-wh", "WAREHOUSE": "loc-old"}, _mapped("Warehouse")
    )
    assert (found, problems) == ({"PrimarySite": "loc-wh"}, [])


def test_two_locations_that_differ_only_in_case_and_neither_exactly_is_an_exception_not_a_guess() -> None:
    found, problems = warehouse_locations({"warehouse": "loc-a", "WAREHOUSE": "loc-b"}, _mapped("Warehouse"))
    assert found == {}
    [problem] = problems
    assert (problem.kind, problem.subject) == ("fulfilment_location_unknown", "location:Warehouse")
    assert "'warehouse'" in problem.message and "'WAREHOUSE'" in problem.message


def test_a_name_typed_differently_in_the_admin_still_matches() -> None:
    """What a person cannot see in the admin: a trailing or doubled space, an accent typed as two
    code points (NFD), full-width letters. None of these is another location."""
    shopify = {"Café  Store ": "loc-cafe", "Ｗａｒｅｈｏｕｓｅ": "loc-wh"}
    rules = RULES.model_copy(
        update={
            "stock": RULES.stock.model_copy(
                update={"locations": {"PrimarySite": "Warehouse", "Backup": "Cafe\u0301 Store"}}
            )
        }
    )
    assert warehouse_locations(shopify, rules) == ({"PrimarySite": "loc-wh", "Backup": "loc-cafe"}, [])
