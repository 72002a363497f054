# Two commands on a fresh machine with only Python 3.11+ and make:
#   make demo   builds .venv and starts the product on embedded defaults
#   make test   builds the same .venv, runs ruff and the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean format system-packages

# Reinstall only when pyproject.toml changes, so a second run skips what is installed.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sync-pipeline demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Test files live in RAM (/dev/shm, when the machine has it): every DuckDB commit and checkpoint
# otherwise waits on the disk. Measured 2026-12-02 on 2 cores: 661 s against 739 s and 890 s on disk.
# One directory per checkout: pytest empties its basetemp first, so two clones must not share one.
TEST_TMP := $(shell test -d /dev/shm -a -w /dev/shm && echo --basetemp=/dev/shm/sync-pipeline-pytest-$$(echo '$(CURDIR)' | cksum | cut -d' ' -f1))

test: system-packages lint
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -n 4 --dist loadfile --no-loadscope-reorder --durations=15 $(TEST_TMP)

# What two tests need from Debian, installed only when missing: PostgreSQL for the deployed
# instance, Chromium for the UI in a browser. Installing needs root and apt-get (as in CI);
# without them the two tests say what is missing and skip (or fail, when CI is set).
system-packages:
	@missing=""; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	else \
		echo "not installed:$$missing (needs root and apt-get); the deployment and UI tests will skip"; \
	fi

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
