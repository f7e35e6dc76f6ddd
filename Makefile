# Everyday targets. `make install` once, then `make test`, `make run`, `make bench`
# (`make bench-cells`: its cells section alone);
# `make bench-ucr` pits rnncls against aeon's MiniRocket on the UCR/UEA sets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# aeon (MiniRocket, for bench-ucr) pins numpy below rnncls's: an environment of its own.
AEON_VENV ?= .venv-aeon
SOURCES := $(wildcard rnncls tests bench tools)
# Our machines are offline and keep MNIST beside the checkout; elsewhere Keras downloads it.
SHARED_MNIST := $(abspath ../shared/data/mnist)
ifneq ($(wildcard $(SHARED_MNIST)),)
export RNNCLS_DATA_DIR ?= $(SHARED_MNIST)
endif

.PHONY: install lock test test-fast lint format run bench bench-cells bench-ucr bench-serve mutate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python  ## the locked versions of everything, then the package (editable)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .

lock: $(BIN)/python  ## requirements.lock anew from pyproject.toml's ranges (newest that fit)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --quiet -o requirements.lock

test: ## every test, the real-MNIST end-to-end run included
	$(BIN)/python -m pytest

test-fast: ## the tests on tiny synthetic data, without the slow real runs
	$(BIN)/python -m pytest -m "not slow"

lint:
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format:
	$(BIN)/ruff format $(SOURCES)
	$(BIN)/ruff check --fix $(SOURCES)

mutate: ## mutation testing of the modules without TensorFlow (minutes; not in CI)
	$(BIN)/python tools/mutate.py

run: ## the seed's experiment: 1200 steps on MNIST
	$(BIN)/rnncls train

bench: ## rnncls against a PyTorch reference, and a picture folder against the IDX files
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py
	$(BIN)/python bench/folders.py

bench-cells: ## only the cells at 784 steps (LSTM, LEM, coRNN, IndRNN) against their PyTorch code (10 min)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py --only cells

$(AEON_VENV)/bin/python:
	$(PYTHON) -m venv $(AEON_VENV)
	$(AEON_VENV)/bin/pip install --quiet aeon==1.6.0

bench-ucr: $(AEON_VENV)/bin/python  ## configs/series.toml against aeon's MiniRocket on every set of ../shared/data/ucr
	$(BIN)/python bench/ucr.py --aeon-python $(AEON_VENV)/bin/python

bench-serve: ## a load test of rnncls serve on loopback (1, 8 and 32 clients; 2 minutes)
	$(BIN)/python bench/serve_load.py

clean:
	rm -rf runs mutants sample.png .pytest_cache .ruff_cache build dist *.egg-info
