# The front door: `make run` starts Stemdeck, `make test` checks it.
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: run install test lint format bench models clean

run: install
	$(BIN)/stemdeck migrate
	$(BIN)/stemdeck up

install: $(STAMP)
	@bash scripts/system-deps.sh

$(STAMP): services/core/pyproject.toml services/api/pyproject.toml services/worker/pyproject.toml requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'services/core[embedded]' -e services/api -e services/worker -r requirements-dev.txt
	touch $@

test: install lint
	@bash scripts/services.sh
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff format --check services tests bench migrations
	$(BIN)/ruff check services tests bench migrations
	$(BIN)/mypy services

format: $(STAMP)
	$(BIN)/ruff format services tests bench migrations
	$(BIN)/ruff check --fix services tests bench migrations

bench: install
	@bash scripts/services.sh
	$(BIN)/python bench/run.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/quality.py

# Weights of every strategy in strategies.yaml, on a machine that can reach them.
models: install
	$(BIN)/stemdeck models

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
