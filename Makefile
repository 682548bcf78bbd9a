# The README's commands. Each target creates the virtualenv it needs (from PyPI) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help venv test pytest lint format demo bench chaos clean

help:
	@echo "make demo    run plan -> apply -> plan against the built-in API emulator (v1, then v2)"
	@echo "make test    run the test suite, ruff and mypy"
	@echo "make bench   run the benchmarks (figures beside a baseline measured in the same run)"
	@echo "make chaos   replay concurrent applies, signals and lost answers at every timing"
	@echo "make lint    ruff and mypy only"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

test: pytest lint

pytest: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests bench
	$(BIN)/ruff format --check reconciler tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format reconciler tests bench
	$(BIN)/ruff check --fix reconciler tests bench

demo: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" bash examples/demo.sh

bench: $(STAMP)
	$(BIN)/python -m bench

chaos: $(STAMP)
	RECONCILER_CHAOS=full $(BIN)/python -m pytest tests/test_chaos.py -q -p no:cacheprovider

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis
