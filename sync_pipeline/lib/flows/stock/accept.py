"""A person accepts a suspect stock snapshot (docs/stock_flow.md, runbook).

Only after checking in Peoplevox that the figures are right (a real stock-take that zeroed a
range, say): its figures become the accepted ones, earlier suspect snapshots are set aside, the
`stock_feed_suspect` exception is resolved with who accepted it, and the next push run publishes.
"""

from __future__ import annotations

from datetime import datetime

from sync_pipeline.lib.flows.stock import states
from sync_pipeline.lib.ledger import Ledger, stock_snapshots
from sync_pipeline.lib.ledger import exceptions as ledger_exceptions
from sync_pipeline.lib.ledger.stock_snapshots import Snapshot


class NothingToAccept(ValueError):
    """No suspect snapshot, or the one named is not suspect."""


def accept_snapshot(ledger: Ledger, by: str, now: datetime, snapshot_id: int | None = None) -> Snapshot:
    """Accept `snapshot_id`, or the newest suspect snapshot when None."""
    if not by.strip():
        raise ValueError("say who accepts the snapshot (a name or e-mail): it goes in the audit")
    with ledger.transaction() as con:
        suspects = stock_snapshots.suspects(con)
        if not suspects:
            raise NothingToAccept("no stock snapshot is waiting to be accepted")
        chosen = (
            suspects[-1]
            if snapshot_id is None
            else next((s for s in suspects if s.snapshot_id == snapshot_id), None)
        )
        if chosen is None:
            waiting = ", ".join(str(s.snapshot_id) for s in suspects)
            raise NothingToAccept(
                f"snapshot {snapshot_id} is not waiting to be accepted (waiting: {waiting})"
            )
        stock_snapshots.decide(con, chosen.snapshot_id, stock_snapshots.ACCEPTED_BY_PERSON, by.strip(), now)
        stock_snapshots.apply(con, chosen.snapshot_id)
        for other in suspects:
            if other.snapshot_id != chosen.snapshot_id:
                stock_snapshots.decide(
                    con,
                    other.snapshot_id,
                    stock_snapshots.SUPERSEDED,
                    f"{by.strip()} accepted {chosen.snapshot_id}",
                    now,
                )
        ledger_exceptions.resolve_for_subject(
            con,
            [states.FEED_SUSPECT],
            states.FEED_SUBJECT,
            f"snapshot {chosen.snapshot_id} accepted by {by.strip()}",
        )
        return stock_snapshots.get(con, chosen.snapshot_id)
