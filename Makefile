# fmnist-sweep: `make sweep` runs a sweep, `make test` runs the test suite.
# Both set everything up first (uv, the locked environment, the data).

EXP ?= experiments/quickstart.yaml
ARGS ?=
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
RUN = $(UV) run --locked --no-sync
DATASET_PKG = dataset-fashion-mnist

.PHONY: help setup uv env data sweep test test-unit test-fast lint ui test-deps clean

help:
	@echo "make sweep [EXP=experiments/exp12.yaml] [ARGS='--max-evals 3']  run a sweep"
	@echo "make test                                                   run the tests"
	@echo "make test-unit                                              the unit tier (seconds)"
	@echo "make test-fast                                              unit + in-process sweeps"
	@echo "make ui                                                     browse mlflow.db on :5001"

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv || \
		python3 -m pip install --quiet --break-system-packages uv

# bytecode compiled once at install, not by every fresh process (tests start many)
env: uv
	@$(UV) sync --locked --quiet --compile-bytecode

# The data: already verified somewhere on the search path, or Debian's package (where apt
# and root are available), or torchvision's download into ./data (where the network is).
data: env
	@$(RUN) python -m sweep data >/dev/null 2>&1 || $(MAKE) --no-print-directory fetch-data
	@$(RUN) python -m sweep data

.PHONY: fetch-data
fetch-data:
	@if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y -qq $(DATASET_PKG) >/dev/null 2>&1 || \
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq $(DATASET_PKG) >/dev/null 2>&1; } || true; \
	fi
	@$(RUN) python -m sweep data --download

setup: data

sweep: setup
	$(RUN) python -m sweep $(EXP) $(ARGS)

# System packages some tests need: Chromium (the HTML report), Java 17 (Spark), PostgreSQL
# and curl (shared stores).
test-deps:
	@sh scripts/test-deps.sh

# the tests also cover the optional Spark backend and PostgreSQL stores: sync with their extras
test: setup test-deps
	@$(UV) sync --locked --quiet --compile-bytecode --extra spark --extra postgres
	$(RUN) ruff check src tests analyze_results.py benchmarks
	$(RUN) ruff format --check src tests analyze_results.py benchmarks
	$(RUN) pytest -q -n 2 --dist loadfile --durations=10

# no store, no process, no real data (and a few Hypothesis examples): seconds on 2 cores
test-unit: env
	SWEEP_TEST_TIER=unit $(RUN) pytest -q -m unit

# the unit tier and the in-process sweeps: offline, no real data, no processes, browser or
# Spark
test-fast: env
	$(RUN) pytest -q -m "not slow"

lint: env
	$(RUN) ruff check src tests analyze_results.py benchmarks
	$(RUN) ruff format --check src tests analyze_results.py benchmarks

ui: env
	@$(RUN) python -m sweep ui --port 5001
	$(RUN) mlflow ui --port 5001

clean:
	rm -rf reports .pytest_cache
