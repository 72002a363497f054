"""Which order days a finance run (or its checks) is about."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg

__all__ = ["range_request", "run_days"]

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
PARTITION = "dagster/partition"


def run_days(tags: dict[str, str], fallback_days: int, today: date | None = None) -> tuple[date, date]:
    """[start, end) of the order days a run covers: its partition range, its partition, or (a run
    without partitions, e.g. a check run on its own) the last `fallback_days` days up to today."""
    if RANGE_START in tags and RANGE_END in tags:
        start, last = date.fromisoformat(tags[RANGE_START]), date.fromisoformat(tags[RANGE_END])
    elif PARTITION in tags:
        start = last = date.fromisoformat(tags[PARTITION])
    else:
        last = today or datetime.now(UTC).date()
        start = last - timedelta(days=fallback_days - 1)
    return start, last + timedelta(days=1)


def range_request(
    days_back: int, now: datetime, key: str, assets: list[dg.AssetKey] | None = None
) -> dg.RunRequest:
    """One run over the order days from `days_back` days ago to today (a ranged run, not a backfill);
    `assets` narrows it to those assets (and their checks), the whole job otherwise."""
    today = now.astimezone(UTC).date()
    return dg.RunRequest(
        run_key=key,
        asset_selection=assets,
        tags={RANGE_START: (today - timedelta(days=days_back)).isoformat(), RANGE_END: today.isoformat()},
    )
