# TicketFlower: `make run` serves the app with a demo company; `make test` runs every check CI runs.
.DEFAULT_GOAL := help
SHELL := /bin/bash

VENV := .venv
PY := $(VENV)/bin/python
# The first of these that is Python >= 3.12 (Django 6 needs it).
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; \
	then echo $$p; break; fi; done)
CHROMIUM_PATH ?= $(shell for b in chromium chromium-browser google-chrome; do command -v $$b && break; done)
TEST_SETTINGS := DJANGO_SETTINGS_MODULE=config.settings_test
# The layout runtime and compiler (docs/layouts.md): npm packages from the committed lock file.
RUNTIME := ticketflower/layouts/runtime
RUNTIME_BUILT := ticketflower/layouts/static/layouts/frame.js
# The render check's runtime (docs/layouts.md): build.mjs writes it after frame.js.
RUNTIME_RENDER := $(RUNTIME)/dist/render.js

.PHONY: help run test lint typecheck migrations-check compose-check pytest bench-quick chromium sandbox layouts db-stop clean

help:
	@echo "make run    set everything up and serve http://127.0.0.1:8000 with a demo company"
	@echo "make test   lint, type-check, migration check, the whole test suite (browser tests too), bench/run --quick"
	@echo "make db-stop  stop the embedded PostgreSQL server"

$(VENV)/bin/python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "TicketFlower needs Python 3.12 or newer (python3.13, python3.12 or python3 on PATH)." >&2; exit 1; fi
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.runtime-installed

.env:
	cp .env.example .env

run: $(VENV)/.runtime-installed .env layouts sandbox
	$(PY) manage.py serve

# The tests run hostile code in the sandbox: without it they fail (make run goes on without it).
test: SANDBOX_REQUIRED := 1
test: $(VENV)/.dev-installed chromium sandbox layouts lint typecheck migrations-check compose-check pytest bench-quick

# npm ci skips esbuild's install script (npm 11); its binary arrives as an optional dependency.
$(RUNTIME)/node_modules/.installed: $(RUNTIME)/package.json $(RUNTIME)/package-lock.json
	@node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 20 ? 1 : 0)' 2>/dev/null || { \
		echo "TicketFlower's layouts need Node.js 20 or newer (node and npm on PATH)." >&2; exit 1; }
	cd $(RUNTIME) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(RUNTIME_BUILT): $(RUNTIME)/node_modules/.installed $(RUNTIME)/build.mjs $(wildcard $(RUNTIME)/src/*)
	cd $(RUNTIME) && node build.mjs

# Only when render.js is missing (a checkout built before it existed): otherwise the build
# above has just written it, after frame.js.
$(RUNTIME_RENDER): $(RUNTIME_BUILT)
	cd $(RUNTIME) && node build.mjs

layouts: $(RUNTIME_BUILT) $(RUNTIME_RENDER)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(TEST_SETTINGS) $(PY) -m mypy

migrations-check: $(VENV)/.dev-installed
	$(TEST_SETTINGS) $(PY) manage.py makemigrations --check --dry-run

# docker-compose.yml is for users' machines; here it is only validated (no Docker engine needed).
compose-check:
	@if docker compose version >/dev/null 2>&1; then docker compose config -q; \
	elif command -v docker-compose >/dev/null; then docker-compose config -q; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing docker-compose to validate docker-compose.yml..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null && docker-compose config -q; \
	else echo "Install Docker Compose to validate docker-compose.yml." >&2; exit 1; fi
	@echo "docker-compose.yml is valid."

pytest: $(VENV)/.dev-installed chromium sandbox layouts
	$(PY) -m pytest

# Every benchmark, small and short (bench/README.md): shows they run, measures nothing.
bench-quick: $(VENV)/.dev-installed layouts
	bench/run --quick

# Browser tests drive the system Chromium; Playwright's own browser download is never used.
chromium:
	@if [ -z "$(CHROMIUM_PATH)" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing Chromium for the browser tests..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium: install it (e.g. sudo apt-get install chromium) or set CHROMIUM_PATH." >&2; \
			exit 1; \
		fi; \
	fi

# CODE tasks run in a bubblewrap sandbox (docs/code-tasks.md); without it they stop in ERROR.
sandbox:
	@if ! command -v bwrap >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "Installing bubblewrap, the sandbox of code tasks..."; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
		else \
			echo "Code tasks need bubblewrap: install it (e.g. sudo apt-get install bubblewrap)." >&2; \
			echo "Until then they stop in ERROR; see docs/code-tasks.md." >&2; \
			[ "$(SANDBOX_REQUIRED)" != 1 ] || exit 1; \
		fi; \
	fi

db-stop: $(VENV)/.runtime-installed
	$(PY) manage.py db stop

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(RUNTIME)/node_modules $(RUNTIME)/dist ticketflower/layouts/static/layouts
