from __future__ import annotations

from hypothesis import given

from sync_pipeline.lib.domain.config import Priority, RoutingConfig
from sync_pipeline.lib.domain.models import Attribute, ShopOrder
from sync_pipeline.lib.domain.routing import choose_route, rule_matches

from .factories import PROPERTY, RULES, make_order, shop_orders

ROUTING = RULES.routing


def test_dtc_default() -> None:
    route = choose_route(make_order(), ROUTING)
    assert (route.site, route.channel, route.service, route.priority) == (
        "PrimarySite",
        "Shopify",
        "Standard",
        Priority.NORMAL,
    )
    assert route.rule_name == "direct-to-consumer"


def test_b2b_customer_tag_any_case() -> None:
    route = choose_route(make_order(customer_tags=("Wholesale",)), ROUTING)
    assert (route.site, route.channel, route.service, route.priority) == (
        "Wholesale",
        "B2B",
        "Pallet",
        Priority.HIGH,
    )


def test_a_shopper_set_cart_attribute_does_not_route_to_wholesale() -> None:
    """Issue 16 item 2: cart attributes are set on the storefront, by anyone."""
    order = make_order(custom_attributes=(Attribute(key="Order_Type", value=" WHOLESALE "),))
    route = choose_route(order, ROUTING)
    assert (route.site, route.channel, route.rule_name) == ("PrimarySite", "Shopify", "direct-to-consumer")


def test_b2b_by_shopify_company() -> None:
    route = choose_route(
        make_order(b2b_company="Northwind Retail Ltd", b2b_company_location="Leeds"), ROUTING
    )
    assert (route.site, route.channel, route.rule_name) == ("Wholesale", "B2B", "b2b-companies")


def test_company_and_location_conditions() -> None:
    rules = RoutingConfig.model_validate(
        {
            "sites": ["PrimarySite", "Wholesale", "North"],
            "rules": [
                {
                    "name": "north",
                    "match": {"company_locations": ["leeds depot"]},
                    "route": {"site": "North"},
                },
                {
                    "name": "northwind",
                    "match": {"companies": ["Northwind Retail Ltd"]},
                    "route": {"site": "Wholesale"},
                },
                {
                    "name": "not-b2b-pos",
                    "match": {"b2b": False, "source_names": ["pos"]},
                    "route": {"channel": "Retail"},
                },
                {"name": "dtc", "default": True, "route": ROUTING.default_rule.route.model_dump()},
            ],
        }
    )

    def rule(**fields: object) -> str:
        return choose_route(make_order(**fields), rules).rule_name

    assert rule(b2b_company="Northwind Retail Ltd", b2b_company_location=" Leeds Depot") == "north"
    assert rule(b2b_company="NORTHWIND retail ltd", b2b_company_location="London") == "northwind"
    assert rule(b2b_company="Other Co", b2b_company_location="London") == "dtc"
    assert rule(source_name="pos") == "not-b2b-pos"
    assert rule(source_name="pos", b2b_company="Other Co") == "dtc"


def test_express_inherits_site_and_channel_from_default() -> None:
    route = choose_route(make_order(shipping_line_title="DPD Express (next day)"), ROUTING)
    assert (route.site, route.channel, route.service, route.priority) == (
        "PrimarySite",
        "Shopify",
        "Express",
        Priority.HIGH,
    )


def test_first_match_wins_b2b_over_express() -> None:
    order = make_order(customer_tags=("B2B",), shipping_line_code="EXPRESS")
    assert choose_route(order, ROUTING).rule_name == "wholesale-customers"


def test_sales_channel() -> None:
    route = choose_route(make_order(source_name="pos"), ROUTING)
    assert (route.channel, route.priority, route.site) == ("Retail", Priority.LOW, "PrimarySite")


@PROPERTY
@given(order=shop_orders())
def test_exactly_one_rule_applies(order: ShopOrder) -> None:
    route = choose_route(order, ROUTING)
    matching = [rule for rule in ROUTING.rules[:-1] if rule_matches(rule.match, order)]
    # The chosen rule is the first that matches, or the default when none does.
    expected = matching[0].name if matching else ROUTING.default_rule.name
    assert route.rule_name == expected
    assert route.site in ROUTING.sites
    assert route.channel and route.service
