"""Make customer-typed text safe to send to Peoplevox, and say which text can never be sent.

This is the one place that decides what text may reach Peoplevox. Every free-text field of a
sales order passes through `clean_text` (via `label_text`); identifiers (SKUs, item codes) are
never altered, because a changed SKU picks a wrong item, so `unsendable_character` refuses them
instead.

CSV quoting copes with commas and quotes, but a newline or control character inside a cell
is where real importers go wrong, and a label printer does not want them either. We flatten
line breaks and tabs to spaces, drop other control characters and every character XML 1.0
cannot carry at all (U+FFFE, U+FFFF, lone surrogates: the SOAP request could not hold them),
and collapse repeated spaces; everything else (accents, CJK, emoji) is kept as typed.

`label_text` is the rule for free text that ends up on Peoplevox labels, pick lists and CSV
exports (contact name, customer, e-mail, address lines, city, region, postcode, order
reference), applied in one place: `translate._header`. On top of `clean_text` it

- drops every Unicode format character (category Cf): bidi embeddings, overrides and isolates
  (U+202A-U+202E, U+2066-U+2069), direction marks, zero-width space and joiners, word joiner,
  BOM, soft hyphen. They are invisible, never needed on a label, and U+202E can make a
  printed address read backwards;
- neutralises a spreadsheet formula: a value that starts with `=`, `+`, `-` or `@` (tab and CR
  are already flattened by `clean_text`) gets a leading apostrophe, so Excel opening an export
  shows the text instead of running `=HYPERLINK(...)` or a DDE call. A value made only of
  digits, spaces and `+-().` (a phone number, "-1") is left alone: it cannot call a function
  or reference a cell, and a phone number must stay dialable.

SKUs and item codes never go through it: they must match Peoplevox exactly.

`neutralise_formula` is also the rule for every text cell of the finance CSV exports (customer
names, notes). Those are written by DuckDB, so the rule is kept as two regular expressions in the
`FORMULA_PREFIXES` and a regular expression in the syntax Python and DuckDB share (`NUMBER_LIKE`): one
rule, two engines.
"""

from __future__ import annotations

import re
import unicodedata

# A spreadsheet treats a cell starting with one of these as a formula (tab and CR included).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Digits, spaces and phone punctuation only: Excel reads it as a number or a harmless sum.
NUMBER_LIKE = r"[0-9+\-(). ]+"
_NUMBER_LIKE = re.compile(NUMBER_LIKE)
# XML 1.0 `Char`: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF. Anything else
# cannot appear in a SOAP request, escaped or not.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def unsendable_character(value: str) -> str | None:
    """The first character of `value` that no Peoplevox request can carry, as `U+XXXX`; else None."""
    found = _NOT_XML.search(value)
    return f"U+{ord(found.group()):04X}" if found else None


def clean_text(value: str | None) -> str:
    if not value:
        return ""
    # Lone surrogates cannot be normalised (or sent): drop them first.
    normalised = unicodedata.normalize("NFC", "".join(c for c in value if not 0xD800 <= ord(c) <= 0xDFFF))
    kept = []
    for char in normalised:
        if char in "\r\n\t\v\f\u2028\u2029\x85":
            kept.append(" ")
        elif unicodedata.category(char) != "Cc" and not _NOT_XML.match(char):
            kept.append(char)
    return " ".join("".join(kept).split())


def visible_text(value: str | None) -> str:
    """`clean_text` without invisible format characters (category Cf)."""
    visible = "".join(char for char in clean_text(value) if unicodedata.category(char) != "Cf")
    return " ".join(visible.split())


def neutralise_formula(text: str) -> str:
    """A leading apostrophe if a spreadsheet would read `text` as a formula (see the module doc)."""
    if text.startswith(FORMULA_PREFIXES) and not _NUMBER_LIKE.fullmatch(text):
        return "'" + text
    return text


def label_text(value: str | None) -> str:
    """The whole rule for one free-text field: `visible_text`, then `neutralise_formula`."""
    return neutralise_formula(visible_text(value))
