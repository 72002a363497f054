"""Shopify variants whose inventory is not tracked: no push can set them, so none is made. Until
2026-12-01 they were left out without a word (`stocked_variants` filters them). Now every full push
counts them (`untracked_variants` in its metadata) and, for those whose SKU is a Peoplevox item (the
warehouse stocks it: Shopify sells it without limit), opens one `stock_untracked_variant` exception
(warehouse ops) per SKU. Untracked variants of no Peoplevox item (gift cards, digital goods) are
untracked on purpose: counted and logged, no exception.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence

import duckdb

from sync_pipeline.lib.domain.config import BusinessRules
from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.flows.stock.listings import recipes_for
from sync_pipeline.lib.ledger import ExceptionRecord
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions

KIND = states.UNTRACKED
SUBJECT = "sku:"
log = logging.getLogger(__name__)


def untracked_problems(
    untracked: Sequence[tuple[str, str, str | None]], item_codes: Collection[str], rules: BusinessRules
) -> list[ExceptionRecord]:
    """One exception per SKU (of `(sku, variant id, title)`) every item of whose recipe Peoplevox has."""
    recipes = recipes_for({sku for sku, _, _ in untracked}, rules)
    problems: dict[str, ExceptionRecord] = {}
    for sku, variant_id, title in untracked:
        if sku in problems or not all(code in item_codes for code, _ in recipes[sku]):
            continue
        problems[sku] = ExceptionRecord(
            kind=KIND,
            owner=states.OWNERS[KIND],
            message=f"Shopify variant {variant_id} ({title or 'untitled'}, SKU {sku!r}) does not track its "
            "inventory, so no stock is published for it and Shopify sells it without limit, though the "
            'warehouse stocks it: turn on "Track quantity" for it in the Shopify admin',
            subject=f"{SUBJECT}{sku}",
        )
    return list(problems.values())


def record(
    con: duckdb.DuckDBPyConnection,
    untracked: Sequence[tuple[str, str, str | None]],
    problems: list[ExceptionRecord],
) -> None:
    """Open or touch `problems`; resolve the open ones this full check no longer finds."""
    if untracked:
        log.info("%d untracked Shopify variants get no stock push (%d stocked in Peoplevox): %s",
                 len(untracked), len(problems), ", ".join(sorted({s for s, _, _ in untracked})[:20]))  # fmt: skip
    ledger_exceptions.open_or_touch(con, problems)
    found = {p.subject for p in problems}
    gone = [subject for _, subject in ledger_exceptions.open_subjects(con, [KIND]) if subject not in found]
    ledger_exceptions.resolve_for_subjects(
        con, [KIND], gone, "the variant is tracked, gone, or no Peoplevox item"
    )
