from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.address import address_problems
from sync_pipeline.lib.domain.models import ShippingAddress

from .factories import GOOD_ADDRESS, PROPERTY


def fields(address: ShippingAddress) -> list[str]:
    return [problem.field for problem in address_problems(address)]


def test_good_address_has_no_problems() -> None:
    assert address_problems(GOOD_ADDRESS) == []


def test_missing_address() -> None:
    assert [p.field for p in address_problems(None)] == ["shipping_address"]


def test_required_fields() -> None:
    blank = ShippingAddress(name="  ", address1="\n", city=None, zip="", country_code="GB")
    assert fields(blank) == ["name", "address1", "city", "zip"]


def test_company_is_enough_as_a_name() -> None:
    assert fields(GOOD_ADDRESS.model_copy(update={"name": None, "company": "Acme Ltd"})) == []


def test_countries_without_postcodes() -> None:
    assert fields(GOOD_ADDRESS.model_copy(update={"zip": None, "country_code": "HK"})) == []
    assert fields(GOOD_ADDRESS.model_copy(update={"zip": None, "country_code": "FR"})) == ["zip"]


def test_country_code_must_be_two_letters() -> None:
    problems = address_problems(GOOD_ADDRESS.model_copy(update={"country_code": "United Kingdom"}))
    assert [p.field for p in problems] == ["country_code"]
    assert "'United Kingdom'" in problems[0].message


def test_lengths_and_postcode_characters() -> None:
    long_line = GOOD_ADDRESS.model_copy(update={"address1": "x" * 101, "zip": "N1;9GU"})
    assert sorted(fields(long_line)) == ["address1", "zip"]


def test_line_breaks_and_unicode_are_fine() -> None:
    address = GOOD_ADDRESS.model_copy(
        update={"name": 'Zoë "Z" Ødegård', "address1": "Flat 2,\r\n10 Rue de l'Église"}
    )
    assert address_problems(address) == []


@PROPERTY
@given(
    st.builds(
        ShippingAddress,
        name=st.one_of(st.none(), st.text()),
        company=st.one_of(st.none(), st.text()),
        address1=st.one_of(st.none(), st.text()),
        address2=st.one_of(st.none(), st.text()),
        city=st.one_of(st.none(), st.text()),
        province_code=st.one_of(st.none(), st.text()),
        zip=st.one_of(st.none(), st.text()),
        country_code=st.one_of(st.none(), st.text(max_size=4)),
        phone=st.one_of(st.none(), st.text()),
    )
)
def test_never_crashes_on_arbitrary_unicode(address: ShippingAddress) -> None:
    for problem in address_problems(address):
        assert problem.field and problem.message
