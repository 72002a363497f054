"""With SYNC_BRAND set, everything a code location puts in the shared instance is the brand's own.

Asset keys, dependencies, checks and pools are global names in a Dagster instance; a new flow
that wrote a literal key or pool would silently share it between brands. A branded load runs in
a subprocess because the brand is read once, when the code location is imported; the plain load
is this process's own (one interpreter less to start) unless SYNC_BRAND is set here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import dagster as dg
import pytest

# Prints what the loaded code location puts in the instance (`description`), from a fresh process.
DESCRIBE = """
import json
from sync_pipeline.definitions import defs
from sync_pipeline_tests.deploy.test_brand_names import description
print(json.dumps(description(defs())))
"""


def description(definitions: dg.Definitions) -> dict[str, Any]:
    """What a code location puts in the instance: keys, dependencies, checks, pools, and each
    job's share of the run slots (`sync/run_slots`)."""
    repo = definitions.get_repository_def()
    graph = repo.asset_graph
    keys = sorted(k.to_user_string() for k in graph.get_all_asset_keys())
    deps = sorted(p.to_user_string() for k in graph.get_all_asset_keys() for p in graph.get(k).parent_keys)
    checks = sorted(c.asset_key.to_user_string() + ":" + c.name for c in graph.asset_check_keys)
    # A graph node's pools include its ops' pools.
    pools = sorted({p for job in repo.get_all_jobs() for n in job.graph.node_defs for p in n.pools})
    slots = {j.name: j.tags.get("sync/run_slots") for j in repo.get_all_jobs() if not j.name.startswith("__")}
    return {"keys": keys, "deps": deps, "checks": checks, "pools": pools, "run_slots": slots}


def describe(brand: str | None) -> dict[str, Any]:
    if brand is None and not os.environ.get("SYNC_BRAND"):
        from sync_pipeline.definitions import defs

        return description(defs())  # this process: SYNC_BRAND unset, as for a single brand
    env = {k: v for k, v in os.environ.items() if k != "SYNC_BRAND"}
    if brand is not None:
        env["SYNC_BRAND"] = brand
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_brand_owns_every_key_dependency_check_and_pool() -> None:
    plain = describe(None)
    acme = describe("acme")
    assert "shopify/orders" in plain["keys"]
    # Each flow's API steps in pools of their own (defs/brand.py), none left in a shared API pool.
    assert set(plain["pools"]) == {
        "duckdb",
        "shopify_backfill",
        *(f"shopify_{flow}" for flow in ("orders", "fulfil", "stock", "finance", "catalogue")),
        *(f"peoplevox_{flow}" for flow in ("orders", "stock", "despatches", "finance", "catalogue")),
    }
    for kind in ("keys", "deps", "checks"):
        outside = [name for name in acme[kind] if not name.startswith("acme/")]
        assert not outside, f"{kind} not under the brand's prefix (use defs.brand.key): {outside}"
        assert acme[kind] == sorted("acme/" + name for name in plain[kind])
    foreign = [p for p in acme["pools"] if not p.startswith("acme/")]
    assert not foreign, f"pools shared between brands (use the defs.brand pool constants): {foreign}"
    assert acme["pools"] == sorted("acme/" + p for p in plain["pools"])
    # Every dependency is an asset of the same location: a literal key would dangle as an
    # external asset of no brand.
    assert set(acme["deps"]) <= set(acme["keys"])
    # Every job but release and status shares the brand's other run slots (dagster.yaml), so
    # runs waiting for a pool never take the slot that gets orders into the warehouse.
    own_slot = {"orders_release_job", "orders_status_job"}
    assert {job for job, tag in plain["run_slots"].items() if tag is None} == own_slot
    assert {job for job, tag in acme["run_slots"].items() if tag == "acme/shared"} == set(
        acme["run_slots"]
    ) - own_slot


def test_a_bad_brand_name_is_refused_naming_the_variable() -> None:
    env = {**os.environ, "SYNC_BRAND": "Acme UK"}
    done = subprocess.run(
        [sys.executable, "-c", DESCRIBE], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode != 0
    assert "brand" in done.stderr and "'Acme UK'" in done.stderr


@pytest.mark.parametrize("value", ["acme", "acme-uk", "b2"])
def test_brand_names_that_are_valid_everywhere(value: str) -> None:
    from sync_pipeline.settings import SyncSettings

    assert SyncSettings(brand=value).brand == value
