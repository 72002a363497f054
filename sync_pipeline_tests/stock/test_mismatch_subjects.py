"""An `inventory_location_mismatch` subject is written and read back by one pair of functions, so
`record` can tell an unfed location's exception (only a complete read of Shopify may resolve it)
from any other whatever a location or site is called."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import load_business_rules
from sync_pipeline.lib.flows.stock import mismatch
from sync_pipeline.lib.flows.stock.ports import Location

names = st.text(min_size=1, max_size=30)


@given(names)
def test_a_location_subject_reads_back_as_its_name(name: str) -> None:
    assert mismatch.location_named(mismatch.location_subject(name)) == name


@given(names)
def test_a_site_subject_names_no_location(site: str) -> None:
    assert mismatch.location_named(mismatch.site_subject(site)) is None
    assert mismatch.site_subject(site) != mismatch.location_subject(site)


def test_stock_is_pushed_to_the_location_named_exactly_not_the_last_one_alike() -> None:
    """The despatches flow fulfils a site's packages at the location it resolves the same name to
    (`domain.location_names`); the stock push must pick the same one, never the last read."""
    rules = load_business_rules(Path(__file__).resolve().parents[2] / "data" / "config")
    rules = rules.model_copy(
        update={"stock": rules.stock.model_copy(update={"locations": {"PrimarySite": "Warehouse"}})}
    )
    exact = [Location("loc-wh", "Warehouse", True), Location("loc-old", "WAREHOUSE", True)]
    assert mismatch.resolve_locations(exact, rules) == ({"PrimarySite": "loc-wh"}, [])
    alike = [Location("loc-a", "warehouse", True), Location("loc-b", "WAREHOUSE", True)]
    found, [problem] = mismatch.resolve_locations(alike, rules)
    assert found == {} and "'warehouse', 'WAREHOUSE'" in problem.message
