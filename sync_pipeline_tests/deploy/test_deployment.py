"""Two brands deployed as docs/deploy.md says, on Postgres: nothing crosses between them.

One instance (deploy/dagster.yaml on a real PostgreSQL started here), one gRPC code server per
brand started with that brand's environment only, and the daemon. Each brand has its own
Shopify and Peoplevox sandboxes, receiver, config directory and ledger. The two stores number
their orders alike (#1001…), so an order that reached the wrong warehouse or ledger would
show there. The tests share one deployment (module scope) and run in file order.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from sync_pipeline.lib.ledger import Ledger
from sync_pipeline.sandbox.shopify.control import AddressSpec, LineSpec, OrderSpec
from sync_pipeline_tests.deploy.postgres import running_postgres
from sync_pipeline_tests.deploy.stack import (
    BIN,
    REPO_ROOT,
    Brand,
    Process,
    base_environment,
    environment,
    start_brand,
    start_code_server,
    start_process,
    stop_brand,
    stop_processes,
    wait_for_code_servers,
    wait_until,
    write_workspace,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
]  # start-up of several Dagster processes

# Different catalogues and order shapes, so each warehouse's content tells whose orders it holds.
ACME = ("acme", ["ACME-TEE-M", "ACME-CAP"], 3, 1)  # 3 orders of 1 × ACME-TEE-M
GLOBEX = ("globex", ["GLOBEX-MUG", "GLOBEX-TOTE"], 2, 4)  # 2 orders of 4 × GLOBEX-MUG
ADDRESS = AddressSpec(
    name="Ada Lovelace", address1="12 Baker Street", city="London", zip="NW1 6XE", country_code="GB"
)


@dataclass
class Deployment:
    brands: dict[str, Brand]
    instance: dg.DagsterInstance
    home: Path
    workspace: Path
    env: dict[str, str]
    processes: list[Process]

    def diagnostics(self) -> str:
        """Each process's failures and retries, then the end of its log."""
        parts = []
        for process in self.processes:
            text = process.log.read_text(errors="replace") if process.log.exists() else ""
            marked = [line[:300] for line in text.splitlines() if re.search(r"FAILURE|RETRY|Error", line)]
            parts.append(f"--- {process.name}\n" + "\n".join(marked[-20:]) + f"\n[…]\n{text[-1500:]}")
        return "\n".join(parts)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    processes: list[Process] = []
    brands: list[Brand] = []
    with running_postgres() as postgres:
        instance_env = {**base_environment(), **postgres.env(), "DAGSTER_HOME": str(home)}
        # The daemon asks each code server to evaluate sensors and start runs with a 60 s gRPC
        # deadline; beside the rest of the suite on 2 CPUs a starved code server once missed it
        # (CI, session 14: the runs failed and the test timed out). What is tested here is where
        # each brand's orders go, not how fast a starved code server answers.
        instance_env["DAGSTER_GRPC_TIMEOUT_SECONDS"] = "180"
        # Opened before any Dagster process starts: the first open creates Dagster's schema in the
        # empty database, and two brands' code servers doing it at once raced ("type asset_keys
        # already exists"), as a deploy's first start does without its migrate step (docs/deploy.md).
        with environment(postgres.env()), dg.DagsterInstance.from_config(str(home)) as instance:
            try:
                for name, skus, _, _ in (ACME, GLOBEX):
                    brands.append(start_brand(name, skus, root / name, instance_env))
                workspace = write_workspace(root / "workspace.yaml", brands)
                for brand in brands:
                    processes.append(start_code_server(brand, root / "logs"))
                wait_for_code_servers(brands, processes)
                daemon = [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]
                processes.append(start_process("daemon", daemon, instance_env, root, root / "logs"))
                yield Deployment(
                    brands={b.name: b for b in brands},
                    instance=instance,
                    home=home,
                    workspace=workspace,
                    env=instance_env,
                    processes=processes,
                )
            finally:
                stop_processes(processes)
                for brand in brands:
                    stop_brand(brand)


def _location(run: dg.DagsterRun) -> str:
    return run.tags.get("dagster/code_location", "")


def _sales_orders(brand: Brand) -> list:
    assert brand.pvx is not None
    return brand.pvx.state().orders


def test_the_instance_is_postgres_and_each_brand_is_its_own_location(deployment: Deployment) -> None:
    instance = deployment.instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"

    def sensors_by_location() -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for state in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR):
            location = state.origin.repository_origin.code_location_origin.location_name
            found.setdefault(location, set()).add(state.name)
        return found

    # The daemon records each location's sensors in Postgres, under that location, as it ticks them.
    orders_sensors = {"shopify_order_events", "peoplevox_status_events", "orders_release_due"}
    wait_until(
        lambda: all(orders_sensors <= sensors_by_location().get(b, set()) for b in ("acme", "globex")),
        timeout=300,
        message="both brands' sensors to tick",
        diagnostics=deployment.diagnostics,
    )
    assert set(sensors_by_location()) == {"acme", "globex"}


def test_sensor_ticks_bring_each_brand_orders_to_its_own_warehouse_only(deployment: Deployment) -> None:
    placed: dict[str, int] = {}
    for name, skus, count, quantity in (ACME, GLOBEX):
        shop = deployment.brands[name].shop
        assert shop is not None
        for _ in range(count):
            shop.place_order(
                OrderSpec(lines=[LineSpec(sku=skus[0], quantity=quantity)], shipping_address=ADDRESS)
            )
        placed[name] = count

    def arrived() -> bool:
        return all(len(_sales_orders(deployment.brands[n])) >= placed[n] for n in placed)

    wait_until(
        arrived,
        timeout=300,
        interval=1,  # two Peoplevox reads per look
        message="both brands' orders in their warehouses",
        diagnostics=deployment.diagnostics,
    )

    for name, skus, count, quantity in (ACME, GLOBEX):
        brand = deployment.brands[name]
        orders = _sales_orders(brand)
        assert len(orders) == count, f"{name}'s warehouse holds {len(orders)} orders, placed {count}"
        for order in orders:
            assert [(line.item_code, line.quantity_ordered) for line in order.lines] == [(skus[0], quantity)]
        with Ledger(brand.data_dir / "ledger.duckdb").transaction() as con:
            (rows,) = con.execute("SELECT count(*) FROM orders").fetchone()
        assert rows == count, f"{name}'s ledger holds {rows} orders, its store {count}"

    # Every run ran in the location that launched it and materialised only that brand's assets.
    runs = deployment.instance.get_runs()
    assert {_location(r) for r in runs} == {"acme", "globex"}
    for run in runs:
        keys = {
            record.event_log_entry.dagster_event.asset_key
            for record in deployment.instance.get_records_for_run(
                run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
        }
        assert all(key.path[0] == _location(run) for key in keys), (run.job_name, _location(run), keys)
    for name in ("acme", "globex"):
        by_sensor = [
            r
            for r in runs
            if _location(r) == name and r.tags.get("dagster/sensor_name") == "shopify_order_events"
        ]
        assert by_sensor and all(r.job_name == "orders_ingest_job" for r in by_sensor)


def test_materialisations_and_check_results_are_recorded(deployment: Deployment) -> None:
    instance = deployment.instance
    for name in ("acme", "globex"):
        key = dg.AssetKey([name, "peoplevox", "sales_orders"])
        # Peoplevox holds the orders while the release step is still finishing: wait for its event.
        wait_until(
            lambda key=key: instance.get_latest_materialization_event(key) is not None,
            timeout=300,
            message=f"{key.to_user_string()} materialised",
            diagnostics=deployment.diagnostics,
        )
        check = dg.AssetCheckKey(key, "paid_orders_reach_warehouse")

        def evaluations(check: dg.AssetCheckKey = check) -> list:
            return instance.event_log_storage.get_asset_check_execution_history(
                check, limit=20, status={AssetCheckExecutionRecordStatus.SUCCEEDED}
            )

        # The check runs as its own step after the release step of the same run.
        wait_until(
            evaluations,
            timeout=300,
            message=f"{check.to_user_string()} evaluated",
            diagnostics=deployment.diagnostics,
        )
        evaluation = evaluations()[0].event.dagster_event.event_specific_data  # type: ignore[union-attr]
        assert evaluation.passed, evaluation.description
        assert evaluation.metadata["stale_orders"].value == 0
    assert instance.get_latest_materialization_event(dg.AssetKey(["shopify", "orders"])) is None


def _launch(deployment: Deployment, job: str, locations: list[str]) -> None:
    """`dagster job launch` per location, at once: the runs go through the daemon's queue."""
    launches = [
        subprocess.Popen(
            [
                str(BIN / "dagster"),
                "job",
                "launch",
                "-w",
                str(deployment.workspace),
                "-l",
                location,
                "-j",
                job,
            ],
            env=deployment.env,
            cwd=deployment.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for location in locations
    ]
    for launch in launches:
        output, _ = launch.communicate(timeout=180)
        assert launch.returncode == 0, output.decode(errors="replace")


def _launched_run(deployment: Deployment, location: str, job: str, after: float) -> str:
    """The run id `dagster job launch` just created in `location` (the oldest since `after`)."""
    runs = deployment.instance.get_runs(
        filters=dg.RunsFilter(
            job_name=job,
            tags={"dagster/code_location": location},
            created_after=datetime.fromtimestamp(after, UTC),
        )
    )
    assert runs, f"no {job} run launched in {location}"
    return runs[-1].run_id


def _finished(deployment: Deployment, run_id: str) -> Callable[[], bool]:
    def finished() -> bool:
        run = deployment.instance.get_run_by_id(run_id)
        return run is not None and run.is_finished

    return finished


def test_pools_hold_across_processes_and_are_each_brands_own(deployment: Deployment) -> None:
    """Hold acme's Peoplevox pool from this process, as a long step in another run would: acme's
    status run waits for it, while globex's (its own pool, its own API budget) goes through."""
    instance, storage = deployment.instance, deployment.instance.event_log_storage
    pool = "acme/peoplevox_orders"
    # The pool's slots live in Postgres, created at pools.default_limit by the first step to use
    # it (or here, if none has claimed one yet).
    if storage.get_concurrency_info(pool).slot_count == 0:
        storage.initialize_concurrency_limit_to_default(pool)
    assert storage.get_concurrency_info(pool).slot_count == 1
    # acme's own sensor-launched runs (release, polls) may hold the slot right now: queue for it as
    # a step would, and take it once theirs is done.
    wait_until(
        lambda: storage.claim_concurrency_slot(pool, "held-by-test", "long_step").is_claimed,
        timeout=180,
        interval=1,
        message=f"{pool}'s slot to come free for the test to hold",
        diagnostics=deployment.diagnostics,
    )
    started = time.time() - 1
    try:
        _launch(deployment, "orders_status_job", ["acme", "globex"])
        acme_run = _launched_run(deployment, "acme", "orders_status_job", started)
        globex_run = _launched_run(deployment, "globex", "orders_status_job", started)
        wait_until(
            _finished(deployment, globex_run),
            timeout=300,
            interval=0.5,
            message="globex's status run",
            diagnostics=deployment.diagnostics,
        )
        globex = instance.get_run_by_id(globex_run)
        assert globex is not None and globex.status == dg.DagsterRunStatus.SUCCESS

        # globex's run went through. acme's is held by the pool: the queue keeps it QUEUED, or it
        # starts and its step waits for the slot (op_granularity_run_buffer). See it held, on
        # the pool's own record once the run is out of the queue, not merely not yet begun.
        def held_by_pool() -> bool:
            acme = instance.get_run_by_id(acme_run)
            assert acme is not None and not acme.is_finished, "acme's run finished while its pool was held"
            return acme_run in storage.get_concurrency_info(pool).pending_run_ids

        deadline = time.monotonic() + 30
        while not held_by_pool() and time.monotonic() < deadline:
            time.sleep(0.25)
        acme = instance.get_run_by_id(acme_run)
        assert acme is not None
        assert held_by_pool() or acme.status == dg.DagsterRunStatus.QUEUED, (
            f"acme's run is {acme.status} but not waiting on {pool}"
        )
        steps = instance.get_records_for_run(acme_run, of_type=dg.DagsterEventType.STEP_START).records
        assert not steps, "acme's Peoplevox step started while another process held its pool's one slot"
    finally:
        storage.free_concurrency_slot_for_step("held-by-test", "long_step")

    # Generous: runs the sensors queued for acme meanwhile (release, polls) go first, in order.
    wait_until(
        _finished(deployment, acme_run),
        timeout=420,
        interval=0.5,
        message="acme's status run once its pool was free",
    )
    acme = instance.get_run_by_id(acme_run)
    assert acme is not None and acme.status == dg.DagsterRunStatus.SUCCESS, deployment.diagnostics()
