"""Test-wide settings."""

import os

from hypothesis import settings

# `make test` and CI run the same examples every time (derandomize) with no per-example deadline,
# so a slow machine or a lucky draw cannot make a green change red: a red property test there is a
# regression. Exploring new examples is a separate, deliberate act: HYPOTHESIS_PROFILE=dev (the
# default for a bare `pytest` outside CI) draws fresh ones each run; a failure it finds is pinned
# with @example before it is fixed.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


# `make test` distributes whole modules (`--dist loadfile`): a module-scoped stack such as the
# two-brand deployment is then built once, on one worker. (`--dist loadgroup` with `xdist_group`
# marks would allow finer units, but pytest-xdist 3.8 renames node ids in a way pytest 9.2 no
# longer reads, so each worker built its own deployment.) A module is one unit of work, so the
# longest modules go first, longest first: the run then ends with short modules filling in, not
# with one worker finishing a minute-long module while the others idle. Ranked by the per-module
# sum of `--durations=0` over a whole `make test` (2026-11-30); a module not listed runs after
# these, in collection order, so a stale entry costs nothing but a little balance.
SLOW_MODULES_FIRST = tuple(
    f"sync_pipeline_tests/{path}.py"
    for path in (
        "deploy/test_deployment",  # module-scoped two-brand deployment: the longest unit
        "ui/test_ui",  # module-scoped `dg dev` and Chromium
        "finance/test_breakers_refunds",  # the breakers by concern: three files, three workers
        "finance/test_breakers_returns",
        "finance/test_breakers",
        "despatches/test_property",
        "finance/test_property",
        "flows/test_orders_property",
        "ledger/test_reconciliation_sql",
        "despatches/test_two_locations",
        "flows/test_orders_defects",
        "deploy/test_brand_names",
        "finance/test_job",
        "flows/test_ingest",
        "orders/test_crash_recovery",
        "orders/test_end_to_end",
        "despatches/test_crash_recovery",
        "orders/test_release_scenarios",
        "despatches/test_fulfil_flow",
        "flows/test_orders_breaker",
        "orders/test_backfill_pool",
        "defs/test_flows_setting",
        "despatches/test_end_to_end",
        "flows/test_orders_suspicions",
        "cli/test_subscribe",
        "ops/test_cli",
    )
)


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item: object) -> int:
        path = getattr(item, "nodeid", "").split("::", 1)[0]
        return SLOW_MODULES_FIRST.index(path) if path in SLOW_MODULES_FIRST else len(SLOW_MODULES_FIRST)

    items.sort(key=rank)  # stable: the rest keep their collection order
