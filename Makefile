SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
# The project's venv (tests, the local runtime, lint, the ops tool), from requirements-dev.txt.
VENV := .venv
BIN := $(VENV)/bin
# AWS SAM CLI's own venv, from requirements-sam.txt: its dependencies never meet the project's.
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
DEV_LOCKS := requirements-dev.txt layers/clients/requirements.txt
STAMP := $(VENV)/.installed-$(shell cat $(DEV_LOCKS) | sha1sum | cut -c1-12)
SAM_STAMP := $(SAM_VENV)/.installed-$(shell cat requirements-sam.txt | sha1sum | cut -c1-12)
# Every lock resolves for the Lambda target (Python 3.11, x86_64 Linux); `make lock` keeps the
# pins it finds (only what the .in files changed moves), `make lock-upgrade` takes the newest.
UV_COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-manylinux2014
# make deploy ENV=dev|staging|prod: dev is samconfig.toml's default section.
ENV ?= dev
SAM_CONFIG_ENV := $(if $(filter dev,$(ENV)),default,$(ENV))
OPS := $(BIN)/python -m gateway_ops
export SAM_CLI_TELEMETRY := 0
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run test unit integration e2e lint format build deploy deploy-guided clean \
	bench bench-quick bench-compare openapi sam-local-image env-local sam-local lock lock-upgrade dlq-summary dlq-export \
	dlq-redrive retry-status

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The stamps' names carry the locks' hashes: a changed lock is a missing stamp (a lock that
# `make lock` rewrote unchanged is not).
$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# The lock is complete (every dependency pinned with its hashes): --no-deps, then pip check.
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	@# What an older lock installed and this one no longer names goes (pip itself stays).
	$(BIN)/uv pip sync --quiet --python $(BIN)/python --require-hashes requirements-dev.txt
	$(BIN)/python -m pip check
	@rm -f $(VENV)/.installed-* && touch $@

$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-sam.txt
	$(SAM_VENV)/bin/python -m pip check
	@rm -f $(SAM_VENV)/.installed-* && touch $@

install: $(STAMP) $(SAM_STAMP) ## Create .venv and .venv-sam from the locks (hashes checked)

lock: $(STAMP) ## Regenerate the locks from the .in files (docs/operate.md)
	$(UV_COMPILE) $(UPGRADE) -o layers/clients/requirements.txt layers/clients/requirements.in
	$(UV_COMPILE) $(UPGRADE) -o requirements-dev.txt requirements-dev.in
	$(UV_COMPILE) $(UPGRADE) -o requirements-sam.txt requirements-sam.in

lock-upgrade: ## As lock, taking the newest versions the .in files allow
	$(MAKE) lock UPGRADE=--upgrade

run: $(STAMP) ## Serve the whole gateway on http://127.0.0.1:3000 (moto + vendor sandboxes)
	$(BIN)/python -m devserver

lint: $(STAMP) $(SAM_STAMP) ## ruff, mypy, sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(SAM) validate --lint

test: lint ## Every test: lint, unit, integration, e2e, browser (Chromium), sam local
	scripts/browser-deps.sh
	$(BIN)/pytest

unit: $(STAMP) ## Unit tests only (no network)
	$(BIN)/pytest tests/unit

integration: $(STAMP) $(SAM_STAMP) ## Handlers in-process against moto and the vendor sandboxes
	$(BIN)/pytest tests/integration

e2e: $(STAMP) ## The local runtime over HTTP, and sam local
	$(BIN)/pytest tests/e2e

openapi: $(STAMP) ## Write docs/openapi.json from the template and the layer's models
	PYTHONPATH=.:layers/clients $(BIN)/python -m devserver.openapi

bench: $(STAMP) $(SAM_STAMP) ## Benchmarks -> benchmarks/REPORT.md and report.png (the full drain is long on moto; `--quick` via PYTHONPATH=.:layers/clients .venv/bin/python -m benchmarks --quick)
	PYTHONPATH=.:layers/clients $(BIN)/python -m benchmarks

bench-quick: $(STAMP) $(SAM_STAMP) ## Every benchmark at small sizes (minutes, for reviews) into benchmarks/quick/
	PYTHONPATH=.:layers/clients $(BIN)/python -m benchmarks --quick --out benchmarks/quick --label quick

bench-compare: $(STAMP) $(SAM_STAMP) ## make bench of BEFORE=<rev> and AFTER=<rev> (default: this tree), alternating, into REPORT.md
	PYTHONPATH=.:layers/clients $(BIN)/python -m benchmarks.compare --before $(BEFORE) $(if $(AFTER),--after $(AFTER)) $(if $(RUNS),--runs $(RUNS))

sam-local-image: $(STAMP) $(SAM_STAMP) ## Docker + the stand-in Lambda image that `sam local` needs offline
	scripts/sam-local-image.sh

env-local: $(STAMP) ## Regenerate env.local.json (sam local --env-vars) from template.yaml
	$(BIN)/python -m devserver.sam_env

sam-local: $(STAMP) $(SAM_STAMP) ## sam local invoke / start-api over every event and route
	$(BIN)/pytest tests/sam_local

format: $(STAMP) ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: $(SAM_STAMP) ## sam build (no container needed)
	$(SAM) build

deploy: build ## sam deploy --config-env for ENV=dev|staging|prod (default dev), no prompts
	$(SAM) deploy --config-env $(SAM_CONFIG_ENV)

deploy-guided: build ## First deploy: sam deploy --guided, which writes samconfig.toml
	$(SAM) deploy --guided

# The DLQ tool (python -m gateway_ops, docs/operate.md): the local runtime's queues by default,
# a deployed stack's with STACK=name (your AWS profile and region).
OPS_TARGET := $(if $(STACK),--stack $(STACK))

dlq-summary: $(STAMP) ## DLQ messages by kind, reason and age (STACK=name: a deployed stack)
	$(OPS) $(OPS_TARGET) dlq summary

dlq-export: $(STAMP) ## Every DLQ message with its attributes to FILE (JSON lines), non-destructive
	$(OPS) $(OPS_TARGET) dlq export $(or $(FILE),dlq-export.jsonl)

dlq-redrive: $(STAMP) ## Move DLQ messages back to RetryQueue (KIND=, REASON=, OLDER_THAN=, DRY_RUN=1)
	$(OPS) $(OPS_TARGET) dlq redrive $(if $(KIND),--kind $(KIND)) $(if $(REASON),--reason "$(REASON)") \
		$(if $(OLDER_THAN),--older-than $(OLDER_THAN)) $(if $(DRY_RUN),--dry-run)

retry-status: $(STAMP) ## RetryQueue depth, in flight, age of the oldest message
	$(OPS) $(OPS_TARGET) retry status

clean: ## Remove build output and caches
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
