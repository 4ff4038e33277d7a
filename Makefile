# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install install-dev install-extras bench clean

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

test: install-extras
	$(BIN)/ruff check beirctl tests benchmarks
	$(BIN)/mypy beirctl
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bm25_engines.py

clean:
	rm -rf $(VENV) results/*/ .pytest_cache .mypy_cache .ruff_cache
