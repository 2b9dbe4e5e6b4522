# Two commands on a fresh machine with Python 3.11:
#   make demo   the main job on the built-in demo speaker
#   make test   lint + the test suite
# Both create .venv if it is missing and install requirements.txt: the project (editable) with
# the dependencies pyproject.toml declares.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-full test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	touch $@

demo: $(STAMP)
	$(BIN)/python helpers/run_experiments.py example_scripts/experiments/demo.toml

demo-full: $(STAMP)
	$(BIN)/python helpers/run_experiments.py example_scripts/experiments/demo_full.toml

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: $(STAMP)  # the edit-loop tier: no model training
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_iva19.py
	$(BIN)/python benchmarks/bench_a2g.py

clean:
	rm -rf demo demo_full results .pytest_cache .ruff_cache
