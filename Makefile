# Two commands for a fresh machine: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test lint types checks pytest test-sqlite seed bench clean

$(VENV)/.runtime: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python >= 3.11 is required") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

## run: the product on its embedded defaults (SQLite, in-memory channel layer, demo gateway over a folder PACS)
run: $(VENV)/.runtime
	RHINO_DEBUG=1 $(PY) -m rhino_web.demo run --port $(PORT)

## test: what CI runs — lint, types, Django checks, migrations check, pytest
test: lint types checks pytest

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(VENV)/.dev
	$(VENV)/bin/mypy .

checks: $(VENV)/.dev
	RHINO_DEBUG=1 $(PY) manage.py check --fail-level WARNING
	RHINO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run

pytest: $(VENV)/.dev
	$(PY) -m pytest $(PYTEST_ARGS)

## test-sqlite: the central suite again on SQLite (CI runs it after `make test` on PostgreSQL)
test-sqlite: $(VENV)/.dev
	DATABASE_URL= $(PY) -m pytest tests/annotations $(PYTEST_ARGS)

bench: $(VENV)/.dev
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf var/
