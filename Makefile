# make venv | run | test | lint | traceability | bench | load | faults
# Everything runs from the project's own virtualenv in .venv (created on first use).
# `make run` installs the runtime (requirements.txt) only; test, bench, load and faults add the
# development tools (requirements-dev.txt).

PYTHON3 ?= python3
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: venv dev run test lint typecheck traceability bench load faults

venv: $(STAMP)
dev: $(DEV_STAMP)

# Reinstall only when a requirements file changes.
$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Works with no environment: SQLite and a filesystem Celery broker are the settings' defaults.
run: venv
	PY=$(PY) bin/migrate
	$(PY) manage.py seed_demo
	bin/run-all

# check --deploy runs on the production settings with throwaway keys.
RANDOM_KEY := $(PY) -c 'import secrets; print(secrets.token_urlsafe(45))'
FERNET_KEY := $(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'

lint: dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: dev
	$(VENV)/bin/mypy

test: lint typecheck
	$(PY) manage.py makemigrations --check --dry-run
	DJANGO_ENV=production SECRET_KEY="$$($(RANDOM_KEY))" ALLOWED_HOSTS=example.com DEBUG=false \
	FIELD_ENCRYPTION_KEYS="$$($(FERNET_KEY))" BLIND_INDEX_KEY="$$($(RANDOM_KEY))" \
	AUDIT_CHAIN_KEYS="$$($(RANDOM_KEY))" \
	$(PY) manage.py check --deploy --fail-level WARNING
	$(VENV)/bin/pytest -n 2

traceability: dev
	$(PY) -m tests.traceability

bench: dev
	$(PY) bench/run_all.py

load: dev
	$(PY) bench/load.py

faults: dev
	$(PY) bench/faults.py
