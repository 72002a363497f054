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
# longer reads, so each worker built its own deployment.) The `slow` modules go first, longest
# first, so they run beside the rest instead of after it.
SLOW_MODULES_FIRST = ("sync_pipeline_tests/deploy/test_deployment.py", "sync_pipeline_tests/ui/test_ui.py")


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item: object) -> int:
        path = getattr(item, "nodeid", "").split("::", 1)[0]
        return SLOW_MODULES_FIRST.index(path) if path in SLOW_MODULES_FIRST else len(SLOW_MODULES_FIRST)

    items.sort(key=rank)  # stable: the rest keep their collection order
