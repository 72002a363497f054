"""`sync-pipeline config check`: secrets masked, every problem named, non-zero exit on any."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "sync-pipeline")
GOOD_ENV = {
    "SHOPIFY_SHOP_URL": "https://brand.myshopify.com",
    "SHOPIFY_ACCESS_TOKEN": "shpat_very_secret_token_value",
    "SHOPIFY_WEBHOOK_SECRET": "whsec_do_not_print_me",
    "PEOPLEVOX_BASE_URL": "https://qac.peoplevox.net",
    "PEOPLEVOX_CLIENT_ID": "brand1234",
    "PEOPLEVOX_USERNAME": "integration",
    "PEOPLEVOX_PASSWORD": "pvx-password-secret",
}


def _run(env_overrides: dict[str, str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOPIFY_", "PEOPLEVOX_", "SYNC_"))}
    env.update(env_overrides)
    env["SYNC_DATA_DIR"] = str(data_dir)
    return subprocess.run([CLI, "config", "check"], env=env, capture_output=True, text=True, timeout=60)


def _data_dir_with_shipped_rules(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "data" / "config", tmp_path / "config")
    return tmp_path


def test_good_configuration_passes_and_masks_every_secret(tmp_path: Path) -> None:
    result = _run(GOOD_ENV, _data_dir_with_shipped_rules(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout
    for secret in ("shpat_very_secret_token_value", "whsec_do_not_print_me", "pvx-password-secret"):
        assert secret not in result.stdout + result.stderr
    assert "https://brand.myshopify.com" in result.stdout
    assert "2026-10" in result.stdout  # the default API version


def test_missing_and_malformed_settings_are_each_named(tmp_path: Path) -> None:
    env = {k: v for k, v in GOOD_ENV.items() if k != "PEOPLEVOX_PASSWORD"}
    env["SHOPIFY_API_VERSION"] = "2026-11"
    env["SHOPIFY_SHOP_URL"] = "brand.myshopify.com"
    result = _run(env, _data_dir_with_shipped_rules(tmp_path))
    assert result.returncode == 1
    assert "PEOPLEVOX_PASSWORD is not set" in result.stderr
    assert "SHOPIFY_API_VERSION must be a quarterly version" in result.stderr
    assert "SHOPIFY_SHOP_URL must be an http(s) URL" in result.stderr
    assert "3 problem(s)" in result.stderr
    assert "shpat_very_secret_token_value" not in result.stdout + result.stderr


def test_a_bad_rules_file_fails_the_check_naming_the_file(tmp_path: Path) -> None:
    data_dir = _data_dir_with_shipped_rules(tmp_path)
    (data_dir / "config" / "routing.yaml").write_text("rules: [oops\n", encoding="utf-8")
    result = _run(GOOD_ENV, data_dir)
    assert result.returncode == 1
    assert "routing.yaml" in result.stderr


def test_a_routing_rule_on_cart_attributes_is_a_warning_naming_the_line(tmp_path: Path) -> None:
    data_dir = _data_dir_with_shipped_rules(tmp_path)
    routing = data_dir / "config" / "routing.yaml"
    text = routing.read_text(encoding="utf-8").replace(
        "      b2b: true\n", "      attributes:\n        - key: order_type\n          value: wholesale\n"
    )
    routing.write_text(text, encoding="utf-8")
    line = text.splitlines().index("      attributes:") + 1
    result = _run(GOOD_ENV, data_dir)
    assert result.returncode == 0, result.stderr
    assert (
        f"warning: {routing}, line {line}, rules[1].match.attributes: rule 'b2b-companies'" in result.stderr
    )


def test_an_empty_webhook_secret_is_refused(tmp_path: Path) -> None:
    result = _run({**GOOD_ENV, "SHOPIFY_WEBHOOK_SECRET": ""}, _data_dir_with_shipped_rules(tmp_path))
    assert result.returncode == 1
    assert "SHOPIFY_WEBHOOK_SECRET must not be empty" in result.stderr


def test_bad_tunables_are_named_and_their_defaults_listed(tmp_path: Path) -> None:
    data_dir = _data_dir_with_shipped_rules(tmp_path)
    good = _run(GOOD_ENV, data_dir)
    assert "SHOPIFY_BULK_THRESHOLD" in good.stdout and "2500" in good.stdout
    assert "PEOPLEVOX_REQUESTS_PER_WINDOW" in good.stdout and "PEOPLEVOX_WINDOW_SECONDS" in good.stdout
    env = {**GOOD_ENV, "SHOPIFY_BULK_THRESHOLD": "lots", "PEOPLEVOX_WINDOW_SECONDS": "0"}
    result = _run(env, data_dir)
    assert result.returncode == 1
    assert "SHOPIFY_BULK_THRESHOLD Input should be a valid integer" in result.stderr
    assert "PEOPLEVOX_WINDOW_SECONDS Input should be greater than 0" in result.stderr
    assert "2 problem(s)" in result.stderr
    negative = _run({**GOOD_ENV, "SHOPIFY_BULK_THRESHOLD": "-1"}, data_dir)
    assert "SHOPIFY_BULK_THRESHOLD Input should be greater than or equal to 0" in negative.stderr
