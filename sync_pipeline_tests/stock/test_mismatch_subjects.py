"""An `inventory_location_mismatch` subject is written and read back by one pair of functions, so
`record` can tell an unfed location's exception (only a complete read of Shopify may resolve it)
from any other whatever a location or site is called."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.flows.stock import mismatch

names = st.text(min_size=1, max_size=30)


@given(names)
def test_a_location_subject_reads_back_as_its_name(name: str) -> None:
    assert mismatch.location_named(mismatch.location_subject(name)) == name


@given(names)
def test_a_site_subject_names_no_location(site: str) -> None:
    assert mismatch.location_named(mismatch.site_subject(site)) is None
    assert mismatch.site_subject(site) != mismatch.location_subject(site)
