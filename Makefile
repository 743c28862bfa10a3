# The verbs a user types. `make setup && make run` is the whole quick start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/default.yaml
# torch first and pinned: any other spec pulls the multi-GB CUDA build on machines that have a CPU wheel.
TORCH_SPEC ?= torch==2.13.0

.PHONY: help setup run run-shc run-sent test test-slow test-gpu lint format compile mlflow-ui clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(BIN)/slimnlp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/slimnlp  ## create .venv and install slimnlp with its dev tools

run: setup  ## run the whole pipeline locally (kfp.local) on the shipped Marathi sample
	$(BIN)/slimnlp run --config $(CONFIG)

run-shc: setup  ## the same pipeline on ../shared/data/mahanews-shc
	$(BIN)/slimnlp run --config configs/mahanews-shc.yaml

run-sent: setup  ## the same pipeline on ../shared/data/mahasent-mr
	$(BIN)/slimnlp run --config configs/mahasent-mr.yaml

test: setup  ## the default test suite (< 15 min on 2 cores; no slow or GPU tests)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m "not slow and not gpu" --timeout=900

test-slow: setup  ## slow tests: the `make run` config end to end through kfp.local
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m slow --timeout=3600

test-gpu: setup  ## tests that need a CUDA device
	$(BIN)/python -m pytest -m gpu

lint: setup  ## ruff check + format check
	$(BIN)/ruff check src components pipelines tests benchmarks
	$(BIN)/ruff format --check src components pipelines tests benchmarks

format: setup  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix src components pipelines tests benchmarks
	$(BIN)/ruff format src components pipelines tests benchmarks

compile: setup  ## write the KFP IR YAML of the pipeline (pipeline.yaml)
	$(BIN)/slimnlp compile --config $(CONFIG) --out pipeline.yaml

mlflow-ui: setup  ## open the MLflow UI on the default run's SQLite store
	$(BIN)/slimnlp mlflow-ui --config $(CONFIG)

clean:  ## remove run outputs (keeps .venv)
	rm -rf runs local_outputs pipeline.yaml .pytest_cache
