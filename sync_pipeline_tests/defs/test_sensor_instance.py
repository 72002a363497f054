"""Sensors evaluated over gRPC (with an instance ref, as the code server serves them) share one
instance a process, and still read what was written since; under test the given instance is used."""

from pathlib import Path

import dagster as dg
import pytest

from sync_pipeline.defs.inbox_sensors import backlogged, last_run_started, latest_metadata
from sync_pipeline.defs.sensor_instance import sensor_instance


@dg.op
def noop() -> None:
    pass


@dg.job
def some_job() -> None:
    noop()


def test_ticks_with_the_same_ref_share_one_instance_that_reads_fresh_runs(tmp_path: Path) -> None:
    with dg.instance_for_test(temp_dir=str(tmp_path)) as writer:
        ref = writer.get_ref()
        first = sensor_instance(dg.SensorEvaluationContext(instance_ref=ref))
        assert first.get_runs_count() == 0
        writer.create_run_for_job(some_job, run_id="a" * 8 + "-0000-0000-0000-" + "0" * 12)
        second = sensor_instance(dg.SensorEvaluationContext(instance_ref=ref))
        assert second is first
        assert second.get_runs_count() == 1  # read from storage, not remembered


def test_another_dagster_home_gets_its_own_instance(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        dg.instance_for_test(temp_dir=str(tmp_path / "a")) as one,
        dg.instance_for_test(temp_dir=str(tmp_path / "b")) as two,
    ):
        a = sensor_instance(dg.SensorEvaluationContext(instance_ref=one.get_ref()))
        b = sensor_instance(dg.SensorEvaluationContext(instance_ref=two.get_ref()))
        assert a is not b
        assert a.root_directory != b.root_directory


def test_under_test_the_given_instance_is_used() -> None:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        assert sensor_instance(context) is instance


def test_the_hot_sensors_helpers_open_one_instance_over_many_ticks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`last_run_started`, `backlogged` (every inbox sensor) and `latest_metadata` (the release
    sensor, every 5 s) all read through the cached instance: Dagster's open happens once."""
    opened: list[object] = []
    real = dg.DagsterInstance.from_ref

    def counting(ref: object) -> dg.DagsterInstance:
        opened.append(ref)
        return real(ref)

    with dg.instance_for_test(temp_dir=str(tmp_path)) as writer:
        ref = writer.get_ref()
        monkeypatch.setattr(dg.DagsterInstance, "from_ref", staticmethod(counting))
        key = dg.AssetKey(["shopify", "orders"])
        for _ in range(3):  # three ticks, as the code server evaluates them
            with dg.SensorEvaluationContext(instance_ref=ref) as context:
                last_run_started(context, "some_job")
                backlogged(context, key)
                latest_metadata(context, key)
        assert len(opened) <= 1, f"DagsterInstance opened {len(opened)} times over 3 ticks"
