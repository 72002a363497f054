"""SYNC_FLOWS: which flows' sensors and schedules start running when a code location first loads.

A brand that keeps stock in another tool, or a deployment brought up paused, leaves flows out;
their assets stay visible and can be materialised by hand. The load runs in a subprocess because
the setting is read once, when the code location is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import dagster as dg
import pytest
from pydantic import ValidationError

from sync_pipeline.settings import FLOWS, SyncSettings

STATUSES = """
import json
from sync_pipeline.definitions import defs
from sync_pipeline_tests.defs.test_flows_setting import statuses
print(json.dumps(statuses(defs())))
"""


def statuses(definitions: dg.Definitions) -> dict[str, str]:
    repo = definitions.get_repository_def()
    found = {s.name: s.default_status.value for s in repo.sensor_defs}
    found.update({s.name: s.default_status.value for s in repo.schedule_defs})
    return found


def default_statuses(flows: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SYNC_BRAND"}
    env["SYNC_FLOWS"] = flows
    done = subprocess.run(
        [sys.executable, "-c", STATUSES], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_only_the_named_flows_start_running_and_alerts_always_do() -> None:
    from sync_pipeline.definitions import defs

    everything = statuses(defs())  # this process: SYNC_FLOWS unset
    assert set(everything.values()) == {"RUNNING"}
    orders_only = default_statuses("orders")
    assert set(orders_only) == set(everything)  # nothing disappears: stopped, not removed
    running = {name for name, status in orders_only.items() if status == "RUNNING"}
    assert running == {
        "shopify_order_events",
        "peoplevox_status_events",
        "orders_release_due",
        "peoplevox_status_poll",
        "ops_run_failure_alert",  # alerts are about the whole location, never left out
        "ops_alert_digest",
        "pools_unstranded",  # housekeeping of the location's pools, whatever flows run
    }


@pytest.mark.parametrize(
    ("value", "automated"),
    [
        ("all", FLOWS),
        ("", FLOWS),
        ("none", ()),
        (" orders , stock ", ("orders", "stock")),
        (",".join(FLOWS), FLOWS),
    ],
)
def test_valid_flow_lists(value: str, automated: tuple[str, ...]) -> None:
    settings = SyncSettings(flows=value)
    assert [flow for flow in FLOWS if settings.automates(flow)] == list(automated)


def test_an_unknown_flow_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match=r"unknown flow\(s\) 'stocks'; known: all, none, orders"):
        SyncSettings(flows="orders,stocks")
    assert not SyncSettings(flows="orders").automates("stock")
