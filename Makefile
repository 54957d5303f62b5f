SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/clients/requirements.txt | sha1sum | cut -c1-12)
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run test unit integration e2e lint format build deploy clean bench openapi sam-local-image env-local sam-local

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt layers/clients/requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install every dependency

run: $(STAMP) ## Serve the whole gateway on http://127.0.0.1:3000 (moto + vendor sandboxes)
	$(BIN)/python -m devserver

lint: $(STAMP) ## ruff, mypy, sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/sam validate --lint

test: lint ## Every test: lint, unit, integration, e2e, sam local
	$(BIN)/pytest

unit: $(STAMP) ## Unit tests only (no network)
	$(BIN)/pytest tests/unit

integration: $(STAMP) ## Handlers in-process against moto and the vendor sandboxes
	$(BIN)/pytest tests/integration

e2e: $(STAMP) ## The local runtime over HTTP, and sam local
	$(BIN)/pytest tests/e2e

openapi: $(STAMP) ## Write docs/openapi.json from the template and the layer's models
	PYTHONPATH=.:layers/clients $(BIN)/python -m devserver.openapi

bench: $(STAMP) ## Benchmarks -> benchmarks/REPORT.md and report.png (the full drain is long on moto; `--quick` via PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks --quick)
	PYTHONPATH=.:layers/clients $(BIN)/python -m benchmarks

sam-local-image: $(STAMP) ## Docker + the stand-in Lambda image that `sam local` needs offline
	scripts/sam-local-image.sh

env-local: $(STAMP) ## Regenerate env.local.json (sam local --env-vars) from template.yaml
	$(BIN)/python -m devserver.sam_env

sam-local: $(STAMP) ## sam local invoke / start-api over every event and route
	$(BIN)/pytest tests/sam_local

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(STAMP) ## sam build (no container needed)
	$(BIN)/sam build

deploy: build ## sam deploy --guided (first time); later `sam deploy --config-env staging|prod`
	$(BIN)/sam deploy --guided

clean: ## Remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
