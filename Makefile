# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test check lint typecheck unit-tests install install-dev install-extras bench identical clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q -e .

install-dev: $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'

# BM25 on SciFact: downloads the dataset unless BEIRCTL_DATA_DIR already holds it.
demo: install
	$(BIN)/beirctl datasets download scifact
	$(BIN)/beirctl run configs/scifact-bm25.yaml

# Optional backends the tests exercise: Pyserini's Anserini jar + Java 21, and the dense extra.
install-extras: install-dev
	PYTHON=$(BIN)/python bash .ci/install-pyserini.sh
	PYTHON=$(BIN)/python bash .ci/install-dense.sh

# Static checks: lint, formatting, strict types (`strict = true` in pyproject), import layers.
lint:
	$(BIN)/ruff check beirctl tests benchmarks
	$(BIN)/ruff format --check beirctl tests benchmarks
	$(BIN)/lint-imports

typecheck:
	$(BIN)/mypy beirctl

# The unit tier: no optional extras, no real data (tests/conftest.py sets the tiers).
unit-tests:
	$(BIN)/python -m pytest -q -m unit -p no:cacheprovider

# Before a commit (after `make install-dev`; under 2 minutes on 2 cores): static checks + unit tier.
check: lint typecheck unit-tests

# What CI runs: everything, then the unit tier again on the pure-Python tokenizer.
test: install-extras
	$(MAKE) --no-print-directory lint typecheck
	$(BIN)/python -m pytest -q
	BEIRCTL_NATIVE=0 $(BIN)/python -m pytest -q -m unit -p no:cacheprovider

# A refactor changed no run file and no metric: BEFORE=rev (default HEAD) against this tree.
BEFORE ?= HEAD
identical: $(BIN)/python
	$(BIN)/python benchmarks/identical_outputs.py --before $(BEFORE) --after-tree . $(IDENTICAL_ARGS)

bench: install
	$(BIN)/python benchmarks/bm25_engines.py

clean:
	rm -rf $(VENV) results/*/ .pytest_cache .mypy_cache .ruff_cache .import_linter_cache .grimp_cache
