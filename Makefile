# driftlab: every target that needs Python creates .venv and installs the project on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/driftlab

test: $(STAMP)
	$(BIN)/pytest -n auto -q tests/unit tests/integration tests/tui

bench: $(STAMP)
	$(BIN)/python -m tests.bench.run

lint: $(STAMP)
	$(BIN)/ruff check engine tests
	$(BIN)/ruff format --check engine tests

format: $(STAMP)
	$(BIN)/ruff format engine tests
	$(BIN)/ruff check --fix engine tests

clean:
	rm -rf $(VENV) build *.egg-info
