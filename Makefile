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

# The figures, then the load tests (they add theirs to the same file), then the one table of all of them.
# DRIFTLAB_LOAD_SECONDS shortens the API load run (60 s by default), DRIFTLAB_LOAD_LABS the workshop (20 labs).
BENCH_RESULTS := $(CURDIR)/bench-results.json
bench: $(STAMP)
	$(BIN)/python -m tests.bench.run --out $(BENCH_RESULTS); figures=$$?; \
	DRIFTLAB_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/pytest -m load tests/load -q -s -p no:xdist -p no:cacheprovider; \
	load=$$?; \
	$(BIN)/python -m tests.bench.report $(BENCH_RESULTS); \
	test $$figures -eq 0 -a $$load -eq 0

lint: $(STAMP)
	$(BIN)/ruff check engine tests
	$(BIN)/ruff format --check engine tests

format: $(STAMP)
	$(BIN)/ruff format engine tests
	$(BIN)/ruff check --fix engine tests

clean:
	rm -rf $(VENV) build *.egg-info
