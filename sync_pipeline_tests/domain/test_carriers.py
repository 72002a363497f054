"""carriers.yaml: validation and tracking details."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.config import ConfigError, load_business_rules
from sync_pipeline.lib.domain.config.carriers import CarriersConfig, tracking_url, url_template_problem
from sync_pipeline.lib.domain.tracking import tracking_for

from .factories import EXAMPLES, PROPERTY, RULES


def test_service_rule_wins_over_carrier_rule_and_unknown_carrier_is_flagged() -> None:
    carriers = CarriersConfig.model_validate(
        {
            "carriers": [
                {
                    "peoplevox_carrier": "DPD",
                    "shopify_company": "DPD UK",
                    "tracking_url": "https://t.test/{tracking_number}",
                },
                {"peoplevox_carrier": "DPD", "peoplevox_service": "Next Day", "shopify_company": "DPD Next"},
            ]
        }
    )
    assert tracking_for(carriers, "dpd", "Next Day", "15501").company == "DPD Next"
    general = tracking_for(carriers, "DPD", "Two Day", " 15 50/1 ")
    assert (general.company, general.number, general.url) == (
        "DPD UK",
        "15 50/1",
        "https://t.test/15%2050%2F1",
    )
    unknown = tracking_for(carriers, "Evri", "48", "H01")
    assert (unknown.company, unknown.url, unknown.known_carrier) == ("Evri", None, False)
    assert tracking_for(RULES.carriers, "Royal Mail", "Tracked 48", None).url is None


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("http://t.test/{tracking_number}", "https"),
        ("https://t.test/{number}", "exactly once"),
        ("https://t.test/{tracking_number}/{tracking_number}", "exactly once"),
        ("https://t.test/a b/{tracking_number}", "spaces"),
    ],
)
def test_bad_url_templates_are_named(template: str, fragment: str) -> None:
    problem = url_template_problem(template)
    assert problem is not None and fragment in problem


def test_loader_names_file_line_and_field(tmp_path: Path) -> None:
    for f in EXAMPLES.iterdir():
        (tmp_path / f.name).write_text(f.read_text())
    (tmp_path / "carriers.yaml").write_text(
        "carriers:\n"
        "  - peoplevox_carrier: DPD\n    shopify_company: DPD UK\n"
        "  - peoplevox_carrier: dpd\n    shopify_company: DPD\n    tracking_url: ftp://x/{tracking_number}\n"
    )
    with pytest.raises(ConfigError) as error:
        load_business_rules(tmp_path)
    text = str(error.value)
    assert "carriers.yaml" in text and "already mapped by rule 1" in text and "https" in text


@PROPERTY
@given(st.text(min_size=1, max_size=30))
def test_any_tracking_number_round_trips_through_the_url(number: str) -> None:
    url = tracking_url("https://t.test/track?n={tracking_number}", number)
    assert unquote(url.split("n=", 1)[1]) == number and " " not in url
