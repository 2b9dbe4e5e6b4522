# Two commands on a fresh machine with Python 3.11:
#   make demo   the main job on the built-in demo speaker
#   make test   lint + the test suite
# Both create .venv if it is missing and install requirements.txt and the project (editable).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo demo-full test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install --no-deps -e .
	touch $@

demo: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash example_scripts/demo.sh

demo-full: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" DEMO_PROFILE=full bash example_scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_iva19.py
	$(BIN)/python benchmarks/bench_a2g.py

clean:
	rm -rf demo results .pytest_cache .ruff_cache
