"""What Peoplevox needs from a shipping address, checked before the order is sent.

Required: a contact name (or a company), address line 1, city, a two-letter ISO country code,
and a postcode unless the country has none. Length limits below are our assumption (the
Peoplevox template does not document them); a value over the limit is a problem for CX to fix
rather than something we truncate, because a clipped address can be mis-delivered.
Checks run on cleaned text (see `text.clean_text`), so a newline typed into an address line is
not a problem but an address made only of spaces is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .models import ShippingAddress
from .text import clean_text

FIELD_LIMITS: dict[str, int] = {
    "name": 100,
    "company": 100,
    "address1": 100,
    "address2": 100,
    "city": 50,
    "province_code": 50,
    "zip": 20,
}

# Countries where Shopify does not require a postcode. Ireland is here because the Eircode is
# optional at Shopify checkout.
COUNTRIES_WITHOUT_POSTCODE: frozenset[str] = frozenset(
    [
        "AE",
        "AG",
        "AO",
        "AW",
        "BF",
        "BI",
        "BJ",
        "BO",
        "BS",
        "BW",
        "BZ",
        "CD",
        "CF",
        "CG",
        "CI",
        "CK",
        "CM",
        "DJ",
        "DM",
        "ER",
        "FJ",
        "GA",
        "GD",
        "GH",
        "GM",
        "GQ",
        "GY",
        "HK",
        "IE",
        "JM",
        "KI",
        "KM",
        "KN",
        "KP",
        "LC",
        "ML",
        "MO",
        "MR",
        "MW",
        "NR",
        "NU",
        "QA",
        "RW",
        "SB",
        "SC",
        "SL",
        "SR",
        "SS",
        "ST",
        "SY",
        "TD",
        "TF",
        "TG",
        "TK",
        "TL",
        "TO",
        "TT",
        "TV",
        "UG",
        "VU",
        "YE",
        "ZW",
    ]
)

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_POSTCODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]*$")

_LABELS = {
    "name": "recipient name",
    "company": "company",
    "address1": "address line 1",
    "address2": "address line 2",
    "city": "city",
    "province_code": "region",
    "zip": "postcode",
    "country_code": "country code",
}


@dataclass(frozen=True)
class AddressProblem:
    field: str
    message: str


def address_problems(address: ShippingAddress | None) -> list[AddressProblem]:
    if address is None:
        return [AddressProblem("shipping_address", "the order has no shipping address")]
    values = {field: clean_text(getattr(address, field)) for field in (*FIELD_LIMITS, "country_code")}
    problems: list[AddressProblem] = []
    if not values["name"] and not values["company"]:
        problems.append(AddressProblem("name", "recipient name is missing"))
    for field in ("address1", "city"):
        if not values[field]:
            problems.append(AddressProblem(field, f"{_LABELS[field]} is missing"))
    country = values["country_code"].upper()
    if not _COUNTRY.match(country):
        shown = f" (got {values['country_code']!r})" if values["country_code"] else ""
        problems.append(AddressProblem("country_code", f"country code must be two letters{shown}"))
    postcode = values["zip"]
    if not postcode and country not in COUNTRIES_WITHOUT_POSTCODE:
        problems.append(
            AddressProblem("zip", f"postcode is missing (required for {country or 'this country'})")
        )
    elif postcode and not _POSTCODE.match(postcode):
        problems.append(
            AddressProblem("zip", f"postcode {postcode!r} has characters other than letters and digits")
        )
    for field, limit in FIELD_LIMITS.items():
        if len(values[field]) > limit:
            problems.append(
                AddressProblem(
                    field, f"{_LABELS[field]} is {len(values[field])} characters; the limit is {limit}"
                )
            )
    return problems
