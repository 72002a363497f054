"""Make customer-typed text safe to put in a Peoplevox CSV cell.

CSV quoting copes with commas and quotes, but a newline or control character inside a cell
is where real importers go wrong, and a label printer does not want them either. We flatten
line breaks and tabs to spaces, drop other control characters and collapse repeated spaces;
everything else (accents, CJK, emoji) is kept as typed.
"""

from __future__ import annotations

import unicodedata


def clean_text(value: str | None) -> str:
    if not value:
        return ""
    normalised = unicodedata.normalize("NFC", value)
    kept = []
    for char in normalised:
        if char in "\r\n\t\v\f\u2028\u2029\x85":
            kept.append(" ")
        elif unicodedata.category(char) != "Cc":
            kept.append(char)
    return " ".join("".join(kept).split())
