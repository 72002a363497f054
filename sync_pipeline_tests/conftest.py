"""Test-wide settings."""

import os

from hypothesis import settings

# CI runs the same examples every time (derandomize) with no per-example deadline, so a slow
# machine or a lucky draw cannot make a green change red; locally hypothesis keeps exploring.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
