"""The deployment files, checked as far as they can be without a Docker engine or a cluster.

- docker-compose.yml against the Compose Specification's JSON schema (vendored, Apache-2.0);
- compose starts every Dagster process only after its one-shot schema migration has exited 0;
- the Helm values against the Dagster chart's values schema (an excerpt, vendored, Apache-2.0),
  and their instance settings against deploy/dagster.yaml;
- every brand wired the same way everywhere: compose services, workspace entries, env files
  that the product's own settings accept, Helm user deployments and their Kubernetes volumes;
- the Dockerfile installs only from the hashed lock and runs unprivileged; the lock pins what
  pyproject.toml pins.
What these cannot show (an image builds, a pod schedules) is listed in docs/deploy.md.
"""

from __future__ import annotations

import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from sync_pipeline.settings import BRAND_PATTERN, load_all

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _schema(name: str) -> dict[str, Any]:
    return json.loads((DEPLOY / "schemas" / name).read_text(encoding="utf-8"))


def _env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as docker compose and `kubectl create secret --from-env-file` read them."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _compose() -> dict[str, Any]:
    return _yaml(DEPLOY / "docker-compose.yml")


def _brands_in_compose() -> list[str]:
    return sorted(name.removeprefix("code-") for name in _compose()["services"] if name.startswith("code-"))


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    jsonschema.Draft7Validator(_schema("compose-spec.json")).validate(_compose())


def test_compose_runs_webserver_daemon_postgres_and_a_code_location_and_receiver_per_brand() -> None:
    services = _compose()["services"]
    assert {"postgres", "webserver", "daemon"} <= set(services)
    brands = _brands_in_compose()
    assert brands == ["acme", "globex"]
    workspace = {
        e["grpc_server"]["location_name"]: e["grpc_server"]
        for e in _yaml(DEPLOY / "workspace.yaml")["load_from"]
    }
    assert sorted(workspace) == brands, "deploy/workspace.yaml must list exactly the compose brands"
    for brand in brands:
        code, receiver = services[f"code-{brand}"], services[f"receiver-{brand}"]
        assert workspace[brand]["host"] == f"code-{brand}" and workspace[brand]["port"] == 4000
        assert code["environment"]["SYNC_BRAND"] == brand == receiver["environment"]["SYNC_BRAND"]
        assert code["env_file"] == receiver["env_file"] == [f"brands/{brand}.env"]
        assert code["volumes"] == receiver["volumes"] == [f"{brand}-data:/data"]
        # Only this brand's two services touch its volume.
        users = [name for name, s in services.items() if f"{brand}-data:/data" in s.get("volumes", [])]
        assert sorted(users) == [f"code-{brand}", f"receiver-{brand}"]
        assert code["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
    for role in ("webserver", "daemon"):
        assert "deploy/workspace.yaml" in services[role]["command"]


def test_every_dagster_process_starts_after_the_one_shot_schema_migration() -> None:
    """On an empty database each Dagster process's first open creates Dagster's schema, and two
    at once raced ("type asset_keys already exists"): `migrate` creates it first, alone."""
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["dagster", "instance", "migrate"]
    assert migrate["restart"] == "no", "a one-shot restarted unless-stopped would migrate for ever"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert migrate["environment"] == services["daemon"]["environment"], "the same instance"
    # Whatever opens the instance (has its connection settings) waits for migrate to exit 0.
    opens_instance = sorted(
        name
        for name, s in services.items()
        if "DAGSTER_POSTGRES_HOST" in s.get("environment", {}) and name != "migrate"
    )
    brands = _brands_in_compose()
    assert opens_instance == sorted(["webserver", "daemon", *(f"code-{b}" for b in brands)])
    for name in opens_instance:
        waits_for = services[name]["depends_on"]
        assert waits_for["migrate"] == {"condition": "service_completed_successfully"}, name
        assert waits_for["postgres"] == {"condition": "service_healthy"}, name


@pytest.mark.parametrize("brand", ["acme", "globex"])
def test_each_example_brand_env_file_is_accepted_by_the_products_settings(brand: str) -> None:
    values = _env_file(DEPLOY / "brands" / f"{brand}.env")
    _, problems = load_all({**values, "SYNC_BRAND": brand})
    assert not problems, problems
    assert len(values["SYNC_CALLBACK_TOKEN"]) >= 32


def _helm() -> dict[str, Any]:
    return _yaml(DEPLOY / "helm" / "values.yaml")


def test_helm_values_are_valid_against_the_charts_values_schema() -> None:
    jsonschema.Draft7Validator(_schema("dagster-helm-values.schema.json")).validate(_helm())


def test_the_schema_excerpt_rejects_what_the_chart_would_not_take() -> None:
    """The vendored excerpt is not a rubber stamp: a misspelt key or a wrong type fails it."""
    validator = jsonschema.Draft7Validator(_schema("dagster-helm-values.schema.json"))
    bad = _helm()
    bad["dagster-user-deployments"]["deployments"][0]["replicas"] = 2
    bad["runLauncher"]["type"] = "DefaultRunLauncher"
    assert len(list(validator.iter_errors(bad))) == 2


def test_helm_instance_settings_are_those_of_deploy_dagster_yaml() -> None:
    values, instance = _helm(), _yaml(DEPLOY / "dagster.yaml")
    daemon = values["dagsterDaemon"]
    queue = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert values["additionalInstanceConfig"]["concurrency"] == instance["concurrency"]
    assert queue == {
        "dequeueUseThreads": instance["run_queue"]["dequeue_use_threads"],
        "dequeueNumWorkers": instance["run_queue"]["dequeue_num_workers"],
        "dequeueIntervalSeconds": instance["run_queue"]["dequeue_interval_seconds"],
    }
    retries = instance["run_retries"]
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"],
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }
    for kind in ("sensors", "schedules"):
        assert daemon[kind] == {
            "useThreads": instance[kind]["use_threads"],
            "numWorkers": instance[kind]["num_workers"],
        }
        assert (
            values["retention"][kind[:-1]]["purgeAfterDays"]
            == instance["retention"][kind[:-1]]["purge_after_days"]
        )
    assert (
        daemon["runMonitoring"]["startTimeoutSeconds"] == instance["run_monitoring"]["start_timeout_seconds"]
    )
    assert (
        daemon["runMonitoring"]["pollIntervalSeconds"] == instance["run_monitoring"]["poll_interval_seconds"]
    )
    assert values["telemetry"] == instance["telemetry"]
    assert (
        values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    )
    launcher = values["runLauncher"]["config"]["customRunLauncher"]
    assert (launcher["module"], launcher["class"]) == (
        instance["run_launcher"]["module"],
        instance["run_launcher"]["class"],
    )


def test_the_instance_config_the_chart_renders_is_one_dagster_accepts(tmp_path: Path) -> None:
    """The chart writes `dagsterDaemon.runCoordinator.config.queuedRunCoordinator` as the run
    coordinator's config (camelCase to snake_case, our reading of its instance template) and
    merges `additionalInstanceConfig` on top. With `concurrency.pools` set, Dagster rejects run
    limits in the run coordinator's config (they moved to `concurrency.runs`): this is the check
    the daemon would fail on at start."""
    from dagster._core.instance.config import dagster_instance_config

    values = _helm()
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower(): value for key, value in queue.items()}
    rendered = {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": snake,
        },
        **values["additionalInstanceConfig"],
    }
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered), encoding="utf-8")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["concurrency"]["runs"]["tag_concurrency_limits"]


def test_each_helm_brand_has_its_secret_volume_and_receiver_on_that_volume() -> None:
    deployments = _helm()["dagster-user-deployments"]["deployments"]
    assert sorted(d["name"] for d in deployments) == _brands_in_compose()
    for deployment in deployments:
        brand = deployment["name"]
        assert BRAND_PATTERN.match(brand) and deployment["env"]["SYNC_BRAND"] == brand
        assert deployment["codeServerArgs"] == ["-m", "sync_pipeline.definitions"]
        assert deployment["envSecrets"] == [{"name": f"sync-brand-{brand}"}]
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in deployment["volumes"]
            if "persistentVolumeClaim" in v
        ]
        assert claims == [f"sync-{brand}-data"]
        docs = list(
            yaml.safe_load_all((DEPLOY / "kubernetes" / f"brand-{brand}.yaml").read_text(encoding="utf-8"))
        )
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert ("PersistentVolumeClaim", f"sync-{brand}-data") in kinds
        assert {("Deployment", f"sync-{brand}-receiver"), ("Service", f"sync-{brand}-receiver")} <= kinds
        (receiver,) = [d for d in docs if d["kind"] == "Deployment"]
        pod = receiver["spec"]["template"]["spec"]
        assert pod["volumes"] == [
            {"name": "data", "persistentVolumeClaim": {"claimName": f"sync-{brand}-data"}}
        ]
        assert pod["containers"][0]["envFrom"] == [{"secretRef": {"name": f"sync-brand-{brand}"}}]
        assert {"name": "SYNC_BRAND", "value": brand} in pod["containers"][0]["env"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        affinity = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
        assert affinity["labelSelector"]["matchLabels"] == {"deployment": brand}


def _dockerfile() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("replay_dockerfile", DEPLOY / "replay_dockerfile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.instructions((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))


def test_dockerfile_installs_only_from_the_hashed_lock_and_runs_unprivileged() -> None:
    steps = _dockerfile()
    runs = " && ".join(arguments for word, arguments in steps if word == "RUN")
    installs = re.findall(r"pip\"? install ([^&]+?)(?: &&|$)", runs)
    assert installs == ["--require-hashes --no-deps -r deploy/requirements.lock"], installs
    users = [arguments for word, arguments in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert steps[-1][0] == "CMD" and "code-server" in steps[-1][1]


def test_the_lock_pins_what_pyproject_pins_with_hashes() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["deploy"]]
    lock = (DEPLOY / "requirements.lock").read_text(encoding="utf-8")
    locked = dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+) \\$", lock, flags=re.M))
    normal = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in locked.items()}
    for requirement in wanted:
        name, _, version = requirement.partition("==")
        if version:
            assert normal.get(re.sub(r"[-_.]+", "-", name).lower()) == version, (
                f"{requirement} not in the lock"
            )
    assert lock.count("--hash=sha256:") >= len(locked), "every locked package needs its hashes"
