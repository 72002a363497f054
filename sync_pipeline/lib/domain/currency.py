"""How many decimals a currency's amounts have (ISO 4217 minor units).

Shopify states money in the currency's own minor unit: the Kuwaiti dinar to the fils (11.385), the
yen in whole yen (1200). The ledger keeps three decimals for every amount; the files finance opens
show each amount with its currency's decimals, so a KWD total reads 11.385 and a EUR one 10.00.
ISO's four-decimal units of account (CLF, UYW) are not currencies a shop sells in, and are not here.
"""

from __future__ import annotations

THREE_DECIMALS = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
NO_DECIMALS = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF",
     "XOF", "XPF"}
)  # fmt: skip
LEDGER_DECIMALS = 3  # the money columns' scale (migration 0013): the most any of these has


def minor_units(currency: str) -> int:
    """Decimals of an amount in `currency` (ISO 4217 code, any case): 3, 0 or, for the rest, 2."""
    code = currency.strip().upper()
    if code in THREE_DECIMALS:
        return 3
    if code in NO_DECIMALS:
        return 0
    return 2
