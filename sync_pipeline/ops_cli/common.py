"""What every operations command shares: the brand's ledger and rules, as the rest of the CLI finds them."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from sync_pipeline.lib.domain.text import visible_text
from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.settings import SyncSettings


def settings() -> SyncSettings:
    """SYNC_DATA_DIR / SYNC_CONFIG_DIR of this brand's environment (docs/deploy.md), as the receiver reads them."""
    try:
        return SyncSettings()
    except ValidationError as error:
        print(f"configuration problem: {error}", file=sys.stderr)
        raise SystemExit(2) from error


def ledger(sync: SyncSettings) -> Ledger:
    # A short busy timeout: a person at a terminal would rather hear the ledger is busy than wait a minute.
    if not sync.ledger_path.exists():
        print(f"no ledger at {sync.ledger_path} (is SYNC_DATA_DIR right?)", file=sys.stderr)
        raise SystemExit(2)
    return Ledger(sync.ledger_path, busy_timeout=15.0)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return str(value)


def print_json(data: Any) -> None:
    print(json.dumps(data, default=_plain, ensure_ascii=False, indent=2))


def cut(text: str | None, width: int) -> str:
    """One line of at most `width` characters, without control or invisible characters (a message
    from a customer or an API must not move the cursor or recolour a person's terminal)."""
    text = visible_text(text)
    return text if len(text) <= width else text[: width - 1] + "…"
