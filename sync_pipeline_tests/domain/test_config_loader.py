"""Business-rules files: the shipped examples load, and every kind of mistake is reported
with the file, the line, the key and what is wrong."""

from __future__ import annotations

import shutil
import textwrap
import warnings
from pathlib import Path

import pytest
from pydantic import ValidationError

from sync_pipeline.lib.domain.config import (
    BusinessRules,
    ConfigError,
    ConfigWarning,
    OrdersConfig,
    Priority,
    load_business_rules,
)
from sync_pipeline.lib.domain.statuses import PeoplevoxStatus

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "config"

MINIMAL_ROUTING = """\
sites: [PrimarySite]
rules:
  - name: dtc
    default: true
    route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: normal}
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(EXAMPLES, target)
    return target


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(directory: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_business_rules(directory)
    return [str(problem) for problem in caught.value.problems]


def only_problem(directory: Path) -> str:
    found = problems_of(directory)
    assert len(found) == 1, found
    return found[0]


def test_shipped_examples_load() -> None:
    rules = load_business_rules(EXAMPLES)
    assert rules.routing.sites == ["PrimarySite", "Wholesale"]
    assert rules.routing.default_rule.route.site == "PrimarySite"
    assert rules.orders.hold_window_seconds == 900
    assert rules.orders.cutoff_status is PeoplevoxStatus.ALLOCATED
    assert rules.sku_overrides.item_code_for("TEE-BLACK-M") == "TEE-BLK-M"
    assert rules.bundles.is_bundle("BUNDLE-STARTER")
    assert rules.stock_buffers.default == 2


def test_only_routing_is_required(tmp_path: Path) -> None:
    write(tmp_path, "routing.yaml", MINIMAL_ROUTING)
    rules = load_business_rules(tmp_path)
    assert rules.orders == OrdersConfig()
    assert rules.bundles.bundles == {}
    assert rules.sku_overrides.overrides == {}
    assert rules.stock_buffers.default == 0


def test_missing_routing_file_is_an_error(tmp_path: Path) -> None:
    message = only_problem(tmp_path)
    assert "routing.yaml" in message and "missing" in message


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    assert "does not exist" in only_problem(tmp_path / "nowhere")


def test_empty_optional_file_means_defaults(config_dir: Path) -> None:
    write(config_dir, "bundles.yaml", "# nothing yet\n")
    assert load_business_rules(config_dir).bundles.bundles == {}


def test_duplicate_sku_override_names_both_lines(config_dir: Path) -> None:
    write(
        config_dir,
        "sku_overrides.yaml",
        """\
        overrides:
          TEE-BLACK-M: TEE-BLK-M
          TEE-BLACK-L: TEE-BLK-L
          TEE-BLACK-M: TEE-BLK-L
        """,
    )
    message = only_problem(config_dir)
    assert "sku_overrides.yaml, line 4, overrides.TEE-BLACK-M" in message
    assert "duplicate key 'TEE-BLACK-M' (first defined at line 2)" in message


def test_duplicate_bundle_sku(config_dir: Path) -> None:
    write(
        config_dir,
        "bundles.yaml",
        """\
        bundles:
          BUNDLE-STARTER:
            components: [{sku: TEE-BLK-M, quantity: 1}]
          BUNDLE-STARTER:
            components: [{sku: TEE-WHT-M, quantity: 1}]
        """,
    )
    assert "line 4, bundles.BUNDLE-STARTER: duplicate key" in only_problem(config_dir)


@pytest.mark.parametrize("quantity", ["0", "-2"])
def test_component_quantity_must_be_positive(config_dir: Path, quantity: str) -> None:
    write(
        config_dir,
        "bundles.yaml",
        f"""\
        bundles:
          BUNDLE-STARTER:
            components:
              - sku: TEE-BLK-M
                quantity: 1
              - sku: TEE-WHT-M
                quantity: {quantity}
        """,
    )
    message = only_problem(config_dir)
    assert "bundles.yaml, line 7, bundles.BUNDLE-STARTER.components[1].quantity" in message
    assert f"greater than or equal to 1 (got {quantity})" in message


def test_bundle_containing_itself(config_dir: Path) -> None:
    write(
        config_dir,
        "bundles.yaml",
        """\
        bundles:
          BUNDLE-STARTER:
            components:
              - {sku: TEE-BLK-M, quantity: 1}
              - {sku: BUNDLE-STARTER, quantity: 1}
        """,
    )
    message = only_problem(config_dir)
    assert "line 5, bundles.BUNDLE-STARTER.components[1].sku" in message
    assert "contains itself (BUNDLE-STARTER → BUNDLE-STARTER)" in message


def test_bundle_containing_itself_through_another(config_dir: Path) -> None:
    write(
        config_dir,
        "bundles.yaml",
        """\
        bundles:
          BUNDLE-A:
            components: [{sku: BUNDLE-B, quantity: 1}]
          BUNDLE-B:
            components: [{sku: TEE-BLK-M, quantity: 1}, {sku: BUNDLE-C, quantity: 2}]
          BUNDLE-C:
            components: [{sku: BUNDLE-A, quantity: 1}]
        """,
    )
    found = problems_of(config_dir)
    assert len(found) == 3
    assert "BUNDLE-A → BUNDLE-B → BUNDLE-C → BUNDLE-A" in found[0]


def test_nested_bundles_without_a_cycle_are_fine() -> None:
    rules = load_business_rules(EXAMPLES)
    gift_box = rules.bundles.bundles["BUNDLE-GIFT-BOX"]
    assert any(rules.bundles.is_bundle(component.sku) for component in gift_box.components)


def test_component_listed_twice(config_dir: Path) -> None:
    write(
        config_dir,
        "bundles.yaml",
        """\
        bundles:
          BUNDLE-STARTER:
            components:
              - {sku: TEE-BLK-M, quantity: 1}
              - {sku: TEE-BLK-M, quantity: 1}
        """,
    )
    assert "component 'TEE-BLK-M' is listed twice" in only_problem(config_dir)


def test_unknown_site(config_dir: Path) -> None:
    write(
        config_dir,
        "routing.yaml",
        """\
        sites: [PrimarySite, Wholesale]
        rules:
          - name: b2b
            match: {customer_tags: [B2B]}
            route: {site: Wholsale}
          - name: dtc
            default: true
            route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: normal}
        """,
    )
    message = only_problem(config_dir)
    assert "routing.yaml, line 5, rules[0].route.site" in message
    assert "unknown site 'Wholsale' in rule 'b2b'; known sites: PrimarySite, Wholesale" in message


def test_unknown_cutoff_status(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "hold_window_seconds: 60\ncutoff_status: Shipped\n")
    message = only_problem(config_dir)
    assert "orders.yaml, line 2, cutoff_status" in message
    assert "'Shipped'" in message and "'Allocated'" in message


def test_cancelled_is_not_a_cutoff(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "cutoff_status: Cancelled\n")
    assert "not a stage an order moves through" in only_problem(config_dir)


def test_cutoff_status_can_be_set(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "cutoff_status: Picking\n")
    assert load_business_rules(config_dir).orders.cutoff_status is PeoplevoxStatus.PICKING


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hold_window_seconds: fifteen\n", "valid integer (got 'fifteen')"),
        ("hold_window_seconds: '900'\n", "valid integer (got '900')"),
        ("injection_batch_rows: 2500\n", "less than or equal to 1000 (got 2500)"),
        ("sales_order_prefix: SHOPIFY-ORDER-\n", "at most 10 characters"),
    ],
)
def test_wrong_types_and_ranges(config_dir: Path, text: str, expected: str) -> None:
    write(config_dir, "orders.yaml", text)
    message = only_problem(config_dir)
    assert "orders.yaml, line 1" in message
    assert expected in message


def test_numeric_looking_sku_must_be_quoted(config_dir: Path) -> None:
    write(config_dir, "sku_overrides.yaml", "overrides:\n  TEE-BLK-M: 0123\n")
    message = only_problem(config_dir)
    assert "line 2, overrides.TEE-BLK-M" in message
    assert "put quotes around values" in message


def test_unknown_key_lists_allowed_keys(config_dir: Path) -> None:
    write(config_dir, "stock_buffers.yaml", "default: 2\nby_skus:\n  TEE-BLK-M: 3\n")
    message = only_problem(config_dir)
    assert "stock_buffers.yaml, line 2, by_skus: unknown key 'by_skus'" in message
    assert "allowed keys: default, by_sku, by_tag, velocity_tiers, peak" in message


def test_missing_required_key_points_at_parent(config_dir: Path) -> None:
    write(config_dir, "bundles.yaml", "bundles:\n  BUNDLE-STARTER:\n    title: Starter\n")
    message = only_problem(config_dir)
    assert "line 2, bundles.BUNDLE-STARTER.components: required key is missing" in message


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("default: -1\n", "line 1, default"),
        ("by_sku:\n  TEE-BLK-M: -3\n", "line 2, by_sku.TEE-BLK-M"),
        ("by_tag:\n  sale: -1\n", "line 2, by_tag.sale"),
        (
            "velocity_tiers:\n  - {min_units_per_hour: -1, buffer: 2}\n",
            "line 2, velocity_tiers[0].min_units_per_hour",
        ),
    ],
)
def test_negative_buffers(config_dir: Path, text: str, where: str) -> None:
    write(config_dir, "stock_buffers.yaml", text)
    message = only_problem(config_dir)
    assert where in message and "greater than or equal to 0" in message


def test_tags_that_differ_only_in_case(config_dir: Path) -> None:
    write(config_dir, "stock_buffers.yaml", "by_tag:\n  Sale: 1\n  sale: 2\n")
    assert "line 3, by_tag.sale: tag 'sale' is the same as 'Sale'" in only_problem(config_dir)


def test_sku_with_surrounding_space(config_dir: Path) -> None:
    write(config_dir, "sku_overrides.yaml", "overrides:\n  'TEE-BLK-M ': TEE-BLK-M\n")
    message = only_problem(config_dir)
    assert "spaces at the start or end" in message and "line 2" in message


def test_invalid_yaml_names_the_line(config_dir: Path) -> None:
    write(config_dir, "routing.yaml", "sites: [PrimarySite\nrules: []\n")
    message = only_problem(config_dir)
    assert "routing.yaml, line" in message and "not valid YAML" in message


def test_top_level_must_be_a_mapping(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "- 900\n")
    assert "must be a mapping" in only_problem(config_dir)


def test_merge_keys_are_refused(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "base: &b {hold_window_seconds: 5}\n<<: *b\n")
    found = problems_of(config_dir)
    assert any("merge keys" in message for message in found)


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        (
            """\
            - name: b2b
              match: {customer_tags: [B2B]}
              route: {site: Wholesale, channel: B2B, service: B2B-STD, priority: high}
            """,
            "no default rule",
        ),
        (
            """\
            - name: dtc
              default: true
              route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: normal}
            - name: b2b
              match: {customer_tags: [B2B]}
              route: {site: Wholesale}
            """,
            "the default rule must be last",
        ),
        (
            """\
            - name: dtc
              default: true
              route: {site: PrimarySite, channel: Shopify}
            """,
            "the default rule must set `service`",
        ),
        (
            """\
            - name: b2b
              route: {site: Wholesale}
            - name: dtc
              default: true
              route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: normal}
            """,
            "rule 'b2b' has no conditions",
        ),
        (
            """\
            - name: dtc
              default: true
              route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: urgent}
            """,
            "Input should be 'low', 'normal' or 'high' (got 'urgent')",
        ),
    ],
)
def test_routing_rule_mistakes(config_dir: Path, rules: str, expected: str) -> None:
    text = "sites: [PrimarySite, Wholesale]\nrules:\n" + textwrap.indent(textwrap.dedent(rules), "  ")
    write(config_dir, "routing.yaml", text)
    assert any(expected in message for message in problems_of(config_dir)), problems_of(config_dir)


def test_stale_threshold_must_exceed_hold_window(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "hold_window_seconds: 900\nstale_order_minutes: 10\n")
    assert "line 2, stale_order_minutes" in only_problem(config_dir)


def test_bundle_that_is_also_an_override(config_dir: Path) -> None:
    write(config_dir, "sku_overrides.yaml", "overrides:\n  BUNDLE-STARTER: STARTER-KIT\n")
    message = only_problem(config_dir)
    assert "bundles.yaml, line 7, bundles.BUNDLE-STARTER" in message
    assert "both a bundle and a SKU override" in message


def test_every_problem_in_every_file_is_reported_at_once(config_dir: Path) -> None:
    write(config_dir, "orders.yaml", "cutoff_status: Shipped\n")
    write(config_dir, "stock_buffers.yaml", "default: -1\n")
    with pytest.raises(ConfigError) as caught:
        load_business_rules(config_dir)
    text = str(caught.value)
    assert text.startswith("business rules are invalid (2 problems):")
    assert "orders.yaml" in text and "stock_buffers.yaml" in text


def test_rules_built_in_python_are_checked_too() -> None:
    with pytest.raises(ValidationError, match="unknown site 'Nowhere'"):
        BusinessRules.model_validate(
            {
                "routing": {
                    "sites": ["PrimarySite"],
                    "rules": [
                        {
                            "name": "dtc",
                            "default": True,
                            "route": {
                                "site": "Nowhere",
                                "channel": "Shopify",
                                "service": "STANDARD",
                                "priority": Priority.NORMAL,
                            },
                        }
                    ],
                }
            }
        )


def test_with_orders_revalidates() -> None:
    rules = load_business_rules(EXAMPLES)
    demo = rules.with_orders(hold_window_seconds=20)
    assert demo.orders.hold_window_seconds == 20
    assert rules.orders.hold_window_seconds == 900
    with pytest.raises(ValidationError):
        rules.with_orders(hold_window_seconds=-1)


ATTRIBUTE_RULE = """\
sites: [PrimarySite, Wholesale]
rules:
  - name: wholesale-portal
    match:
      attributes:
        - key: order_type
          value: wholesale
    route: {site: Wholesale}
  - name: dtc
    default: true
    route: {site: PrimarySite, channel: Shopify, service: STANDARD, priority: normal}
"""


def test_a_rule_on_cart_attributes_is_warned_about_naming_file_line_and_field(config_dir: Path) -> None:
    """Any shopper can set a cart attribute: routing on one is flagged (issue 16 item 2)."""
    routing = write(config_dir, "routing.yaml", ATTRIBUTE_RULE)
    with pytest.warns(ConfigWarning) as caught:
        rules = load_business_rules(config_dir)
    assert rules.routing.rules[0].name == "wholesale-portal"  # a warning: it still loads
    [warning] = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert warning.startswith(f"{routing}, line 5, rules[0].match.attributes: ")
    assert "'wholesale-portal'" in warning and "any shopper" in warning


def test_shipped_rules_trust_no_customer_settable_field() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        rules = load_business_rules(EXAMPLES)
    assert not any(rule.match.attributes for rule in rules.routing.rules)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("move_retry_minutes: -1\n", "greater than or equal to 0 (got -1)"),
        ("move_retry_minutes: 2000\n", "less than or equal to 1440 (got 2000)"),
        ("move_retry_minutes: half an hour\n", "valid integer (got 'half an hour')"),
    ],
)
def test_despatch_move_retry_is_checked(config_dir: Path, text: str, expected: str) -> None:
    write(config_dir, "despatches.yaml", text)
    message = only_problem(config_dir)
    assert "despatches.yaml, line 1, move_retry_minutes" in message and expected in message


def test_despatch_move_retry_defaults_to_the_shipped_half_hour(config_dir: Path) -> None:
    assert load_business_rules(EXAMPLES).despatches.move_retry_minutes == 30
    write(config_dir, "despatches.yaml", "move_retry_minutes: 0\n")  # every run
    assert load_business_rules(config_dir).despatches.move_retry_minutes == 0


def test_despatch_run_budget_is_checked(config_dir: Path) -> None:
    assert load_business_rules(EXAMPLES).despatches.fulfil_max_seconds == 20
    write(config_dir, "despatches.yaml", "fulfil_max_seconds: 3600\n")
    message = only_problem(config_dir)
    assert "despatches.yaml, line 1, fulfil_max_seconds" in message and "less than or equal to 600" in message


def test_finance_money_read_budget_is_checked(config_dir: Path) -> None:
    assert load_business_rules(EXAMPLES).finance.money_read_max_seconds == 30
    write(config_dir, "finance.yaml", "money_read_max_seconds: 0\n")
    message = only_problem(config_dir)
    assert "finance.yaml, line 1, money_read_max_seconds" in message and "greater than 0" in message


def test_unchanged_files_give_the_rules_read_before_and_any_changed_byte_reads_them_again(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step loads the rules: they are parsed again only when a file's bytes changed."""
    from sync_pipeline.lib.domain.config import loader

    reads: list[Path] = []
    real_read = loader._read_rules
    monkeypatch.setattr(loader, "_read_rules", lambda d, c: reads.append(d) or real_read(d, c))
    first = load_business_rules(config_dir)
    assert load_business_rules(config_dir) == first and len(reads) == 1
    # Only the bytes tell: an edit in the same second need not change a file's size or mtime.
    orders = config_dir / "orders.yaml"
    text = orders.read_text(encoding="utf-8")
    edited = text.replace("hold_window_seconds:", "hold_window_seconds: 47 #", 1)
    orders.write_text(edited, encoding="utf-8")
    again = load_business_rules(config_dir)
    assert len(reads) == 2 and again.orders.hold_window_seconds == 47
    # A file appearing or going away counts as a change too, and a broken file is never kept.
    (config_dir / "carriers.yaml").unlink()
    load_business_rules(config_dir)
    assert len(reads) == 3
    write(config_dir, "routing.yaml", "sites: [\n")
    assert "not valid YAML" in only_problem(config_dir)
    assert "not valid YAML" in only_problem(config_dir)  # read again, not remembered
    assert len(reads) == 5


def test_rules_read_before_still_warn_each_time(config_dir: Path) -> None:
    write(config_dir, "routing.yaml", ATTRIBUTE_RULE)
    for _ in range(2):
        with pytest.warns(ConfigWarning) as caught:
            load_business_rules(config_dir)
        assert [w for w in caught if issubclass(w.category, ConfigWarning)]


def test_a_file_rewritten_with_the_same_bytes_while_it_is_read_leaves_no_wrong_rules_behind(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy that rewrites a file in place (truncate, then write the same text) while a step
    reads it: the read may see the file empty, and the bytes before and after are the same. The
    rules kept for those bytes must be the rules they say, not the empty file's defaults."""
    from sync_pipeline.lib.domain.config import loader

    orders = config_dir / "orders.yaml"
    orders.write_text(
        orders.read_text(encoding="utf-8").replace("hold_window_seconds: 900", "hold_window_seconds: 47")
    )
    real_read_yaml, rewritten = loader.read_yaml, []

    def read_mid_rewrite(file: Path, *args: object) -> object:
        if file.name != "orders.yaml" or rewritten:
            return real_read_yaml(file, *args)
        text = file.read_bytes()
        file.write_bytes(b"")  # the rewrite has truncated the file …
        try:
            return real_read_yaml(file, *args)
        finally:
            file.write_bytes(text)  # … and written the same bytes again
            rewritten.append(file)

    monkeypatch.setattr(loader, "read_yaml", read_mid_rewrite)
    load_business_rules(config_dir)  # whatever this one saw, the next load sees the file as it is
    assert rewritten and load_business_rules(config_dir).orders.hold_window_seconds == 47


def test_a_caller_changing_its_rules_in_place_changes_no_one_elses(config_dir: Path) -> None:
    """The models are frozen but their lists and dicts are not: what one step does to its rules
    must not reach the next step's, as it could not when each load parsed the files."""
    mine = load_business_rules(config_dir)
    mine.routing.sites.append("Elsewhere")
    mine.sku_overrides.overrides["TEE-BLACK-M"] = "SOMETHING-ELSE"
    mine.routing.rules.clear()
    theirs = load_business_rules(config_dir)
    assert theirs.routing.sites == ["PrimarySite", "Wholesale"] and theirs.routing.rules
    assert theirs.sku_overrides.item_code_for("TEE-BLACK-M") == "TEE-BLK-M"


def test_rules_read_through_a_symlink_warn_with_the_path_given(config_dir: Path) -> None:
    """Two spellings of one directory share the files' bytes, but a warning names the file as the
    caller spelt it, as it did when every load read the files."""
    write(config_dir, "routing.yaml", ATTRIBUTE_RULE)
    link = config_dir.parent / "current"
    link.symlink_to(config_dir, target_is_directory=True)
    for directory in (config_dir, link):
        with pytest.warns(ConfigWarning) as caught:
            load_business_rules(directory)
        [warning] = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
        assert warning.startswith(f"{directory / 'routing.yaml'}, line 5"), warning
