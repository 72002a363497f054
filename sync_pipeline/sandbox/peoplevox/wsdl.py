"""The official WSDL, served at ``?wsdl`` with the service address pointed at this sandbox.

A copy is committed next to this module (identical to ../shared/reference/peoplevox, checked
by a test) because ../shared is not present where the demo runs.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

WSDL_PATH = Path(__file__).with_name("integrationservicev4.wsdl")
OFFICIAL_ADDRESS = "http://peoplevox.net/appb/resources/integrationservicev4.asmx"


@cache
def wsdl_text() -> str:
    return WSDL_PATH.read_text(encoding="utf-8-sig")


def wsdl_for(address: str) -> str:
    """The WSDL with every port's address replaced by `address` (escaped for an attribute)."""
    safe = address.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return wsdl_text().replace(f'location="{OFFICIAL_ADDRESS}"', f'location="{safe}"')
