# The front door: `make run` starts Stemdeck, `make test` checks it.
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3
WEB    := services/frontend
# npm ci rewrites node_modules whole; this marks a finished install of the lockfile.
WEB_DEPS  := $(WEB)/node_modules/.installed-stamp
WEB_BUILD := $(WEB)/dist/index.html
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f) \
	$(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json
# The OpenID Connect provider the browser sign-in test runs (npm oidc-provider).
OIDC_PROVIDER := tests/e2e/oidc_provider
OIDC_PROVIDER_DEPS := $(OIDC_PROVIDER)/node_modules/.installed-stamp
# Where the system's Node.js is missing or too old for Vite, system-deps.sh puts a pinned
# one from PyPI here; first on PATH, it is the node and npm of every step and test.
SYSTEM_DEPS := VENV=$(VENV) bash scripts/system-deps.sh
export PATH := $(abspath $(VENV))/node/bin:$(PATH)

.PHONY: run install web test test-web lint format gen-client bench models clean rehearse rehearse-fresh

# `stemdeck up` brings the database up to date before it starts anything.
run: install
	$(BIN)/stemdeck up

install: $(STAMP) web
	@$(SYSTEM_DEPS)

$(STAMP): services/core/pyproject.toml services/api/pyproject.toml services/worker/pyproject.toml services/remote/pyproject.toml requirements-dev.txt
	@PYTHON=$(PYTHON) $(SYSTEM_DEPS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e 'services/core[embedded]' -e services/api -e services/worker -e services/remote -r requirements-dev.txt
	touch $@

# The web app is rebuilt only when it is missing or older than its sources.
web: $(WEB_BUILD)

$(WEB_DEPS): $(WEB)/package-lock.json | $(STAMP)
	@$(SYSTEM_DEPS)
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@

$(WEB_BUILD): $(WEB_DEPS) $(WEB_SOURCES)
	cd $(WEB) && npm run build

$(OIDC_PROVIDER_DEPS): $(OIDC_PROVIDER)/package-lock.json | $(STAMP)
	@$(SYSTEM_DEPS)
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund
	touch $@

test: install lint test-web $(OIDC_PROVIDER_DEPS)
	@bash scripts/services.sh
	@bash scripts/browser.sh
	$(BIN)/pytest

test-web: $(WEB_DEPS)
	cd $(WEB) && npm test

lint: $(STAMP) $(WEB_DEPS)
	$(BIN)/ruff format --check services tests bench migrations scripts
	$(BIN)/ruff check services tests bench migrations scripts
	$(BIN)/mypy services
	cd $(WEB) && npm run typecheck
	VENV_BIN=$(BIN) bash scripts/gen-client.sh --check

format: $(STAMP)
	$(BIN)/ruff format services tests bench migrations scripts
	$(BIN)/ruff check --fix services tests bench migrations scripts

# The web app's API types, from the API's OpenAPI schema.
gen-client: $(STAMP) $(WEB_DEPS)
	VENV_BIN=$(BIN) bash scripts/gen-client.sh

bench: install
	@BENCH=1 $(SYSTEM_DEPS)
	@bash scripts/services.sh
	$(BIN)/python bench/run.py
	$(BIN)/python bench/models.py
	$(BIN)/python bench/quality.py
	$(BIN)/python bench/analysis.py
	$(BIN)/python bench/signin.py
	$(BIN)/python bench/auth.py
	$(BIN)/python bench/load.py
	$(BIN)/python bench/sse.py

# Weights of every strategy in strategies.yaml, on a machine that can reach them.
models: install
	$(BIN)/stemdeck models

# Before a release, as root (15 min with its images built, 30-50 from nothing): `docker compose up` for real with Podman,
# a browser at the web port, two workers, a killed worker, stop/start, down.
rehearse: install
	bash scripts/compose-rehearsal.sh

# Before a release, as root: the README's two commands in a container from a bare Debian 12.
rehearse-fresh:
	bash scripts/rehearse-fresh.sh

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/dist $(OIDC_PROVIDER)/node_modules
