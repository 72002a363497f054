"""`clean_text` leaves nothing Peoplevox could not receive; `unsendable_character` finds it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync_pipeline.lib.domain.text import clean_text, unsendable_character
from sync_pipeline.lib.peoplevox.soap import escape

from .factories import PROPERTY


@PROPERTY
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_cleaned_text_always_goes_through_the_clients_xml_escaping(value: str) -> None:
    cleaned = clean_text(value)
    assert unsendable_character(cleaned) is None
    escape(cleaned)  # the Peoplevox client's own check raises on anything XML 1.0 cannot carry


@PROPERTY
@given(st.text())
def test_unsendable_character_agrees_with_the_clients_escaping(value: str) -> None:
    try:
        escape(value)
        refused = False
    except ValueError:
        refused = True
    assert refused == (unsendable_character(value) is not None)


def test_what_cleaning_keeps() -> None:
    assert clean_text("  Zoë  O'Brien\r\n3F  ") == "Zoë O'Brien 3F"
    assert clean_text("東京都 😀") == "東京都 😀"
    assert unsendable_character("A\ufffeB") == "U+FFFE"
