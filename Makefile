# Two commands on a fresh machine with Python 3.11:
#   make demo   the main job on the built-in demo speaker
#   make test   lint + the test suite
# Both create .venv if it is missing and install requirements.txt: the project (editable) with
# the dependencies pyproject.toml declares.
# GPU=1 (any target: make demo GPU=1, make test GPU=1) installs requirements-gpu.txt instead:
# TensorFlow's CUDA build (tensorflow[and-cuda]) in place of tensorflow-cpu; without GPU=1 the
# next make puts the CPU build back.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
GPU ?=
REQUIREMENTS := $(if $(GPU),requirements-gpu.txt,requirements.txt)
STAMP := $(VENV)/.installed$(if $(GPU),-gpu)
OTHER_STAMP := $(VENV)/.installed$(if $(GPU),,-gpu)
OTHER_TENSORFLOW := $(if $(GPU),tensorflow-cpu,tensorflow)

.PHONY: demo demo-sweep demo-full chromium test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(REQUIREMENTS) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --upgrade pip
	@if [ -e $(OTHER_STAMP) ]; then $(BIN)/python -m pip uninstall -y $(OTHER_TENSORFLOW); fi
	$(BIN)/python -m pip install -r $(REQUIREMENTS)
	rm -f $(OTHER_STAMP)
	touch $@

demo: $(STAMP)
	$(BIN)/python helpers/run_experiments.py example_scripts/experiments/demo.toml

demo-sweep: $(STAMP)  # every method of the demo (DIM, features, the A2G ablation)
	$(BIN)/python helpers/run_experiments.py example_scripts/experiments/demo_sweep.toml

demo-full: $(STAMP)
	$(BIN)/python helpers/run_experiments.py example_scripts/experiments/demo_full.toml

lint: $(STAMP)
	$(BIN)/ruff check .

# Two pytest-xdist workers: most of a test's time is single-threaded Python (tracing TF graphs,
# numpy), so two of them keep two cores busy. Whole files go to one worker (module fixtures),
# in the order tests/conftest.py sorts them (slow files first), not by their number of tests.
TEST_JOBS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder --durations=15

# The browser tests' Chromium (Debian's package), installed where this machine allows it;
# without it those tests skip and say why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && { apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
	       || { apt-get update -q >/dev/null 2>&1 \
	            && apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; }; }; } \
	  || echo "chromium could not be installed: the browser tests will skip"

test: $(STAMP) chromium
	$(BIN)/ruff check .
	$(PYTEST)

test-fast: $(STAMP)  # the edit-loop tier: no model training
	$(BIN)/ruff check .
	$(PYTEST) -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_data.py
	$(BIN)/python benchmarks/bench_iva19.py
	$(BIN)/python benchmarks/bench_a2g.py
	$(BIN)/python benchmarks/bench_ha2g.py
	$(BIN)/python benchmarks/bench_speed.py
	$(BIN)/python benchmarks/bench_stream.py
	$(BIN)/python benchmarks/bench_scale.py

clean:
	rm -rf demo demo_full results .pytest_cache .ruff_cache
