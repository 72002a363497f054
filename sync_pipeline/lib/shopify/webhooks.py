"""Shopify webhook signatures: base64 HMAC-SHA256 of the raw body, keyed with the app secret."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign_webhook(raw_body: bytes, secret: str) -> str:
    """The `X-Shopify-Hmac-SHA256` value Shopify would send for `raw_body`."""
    return base64.b64encode(hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()).decode()


def verify_webhook(raw_body: bytes, hmac_header: str | None, secret: str) -> bool:
    """True only when `hmac_header` is the signature of exactly these bytes.

    Verify before parsing: re-serialised JSON would not match. The comparison is constant time
    so a caller cannot learn the signature byte by byte; a missing or empty header is rejected.
    """
    if not hmac_header or not secret:
        return False
    expected = sign_webhook(raw_body, secret)
    return hmac.compare_digest(expected.encode(), hmac_header.strip().encode())
