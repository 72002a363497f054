"""Finance's hourly pass waits while peak mode is on: it holds the ledger in one transaction that
grows with the despatches not yet settled (112.8 s at session 21's 1,500-a-minute rehearsal, every
flow stopped meanwhile). Against a real Dagster instance, peak mode as an ingest run records it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.defs import brand, peak_mode
from sync_pipeline.defs.finance.schedules import finance_hourly, finance_nightly
from sync_pipeline.defs.finance.scope import RANGE_END
from sync_pipeline.defs.resources import BusinessRulesResource

RULES = Path(__file__).resolve().parents[2] / "data" / "config"


def _ingest_recorded(instance: dg.DagsterInstance, peak: bool) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=brand.key("shopify", "orders"), metadata={"peak_mode": peak})
    )


def test_the_hourly_pass_is_skipped_in_peak_mode_and_runs_again_once_it_ends() -> None:
    now = datetime(2026, 11, 27, 14, 20, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        # No ingest run yet (a new install): the pass runs.
        first = finance_hourly(dg.build_schedule_context(instance=instance, scheduled_execution_time=now))
        assert isinstance(first, dg.RunRequest) and first.tags[RANGE_END] == "2026-11-27"
        _ingest_recorded(instance, peak=True)
        skipped = finance_hourly(dg.build_schedule_context(instance=instance, scheduled_execution_time=now))
        assert isinstance(skipped, dg.SkipReason) and "peak mode" in (skipped.skip_message or "")
        _ingest_recorded(instance, peak=False)
        again = finance_hourly(dg.build_schedule_context(instance=instance, scheduled_execution_time=now))
        assert isinstance(again, dg.RunRequest) and again.run_key == first.run_key


def test_the_nightly_pass_runs_in_peak_mode_too() -> None:
    with dg.instance_for_test() as instance:
        _ingest_recorded(instance, peak=True)
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2026, 11, 28, 2, 40, tzinfo=UTC),
            resources={"business_rules": BusinessRulesResource(config_dir=str(RULES))},
        ) as context:  # entered and left: a context with resources left open broke later tests' Definitions
            assert isinstance(finance_nightly(context), dg.RunRequest)


def test_a_peak_mode_no_ingest_run_has_judged_for_a_quarter_of_an_hour_holds_nothing_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ingest stopped (paused, failing) mid-sale: its last "on" is not trusted for ever."""
    now = datetime(2026, 11, 27, 15, 20, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        _ingest_recorded(instance, peak=True)
        assert isinstance(
            finance_hourly(dg.build_schedule_context(instance=instance, scheduled_execution_time=now)),
            dg.SkipReason,
        )
        later = time.time() + peak_mode.FRESH_SECONDS + 1
        monkeypatch.setattr(peak_mode, "_now", lambda: later)
        assert isinstance(
            finance_hourly(dg.build_schedule_context(instance=instance, scheduled_execution_time=now)),
            dg.RunRequest,
        )
