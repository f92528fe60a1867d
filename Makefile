# The promised commands. Every target bootstraps .venv itself.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export GX_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export SCARF_ANALYTICS := false
export UV_COMPILE_BYTECODE := 1

.PHONY: venv demo test airflow dsn stop bench lint

venv: $(STAMP)

$(STAMP): requirements.txt
	@bash infra/bootstrap_venv.sh $(VENV)
	@touch $(STAMP)

demo: $(STAMP)
	@$(PY) -m govctl demo

test: $(STAMP)
	@$(PY) -m pytest

airflow: $(STAMP)
	@bash infra/airflow_local.sh

# make dsn [ROLE=ingest|transform|bi|auditor|airflow]: the owner's DSN, or a login's (password in var/pgpass)
dsn: $(STAMP)
	@$(PY) -m infra.local_pg dsn $(if $(ROLE),--role $(ROLE))

stop: $(STAMP)
	@bash infra/airflow_local.sh stop || true
	@$(PY) -m infra.local_pg stop

bench: $(STAMP)
	@$(PY) -m tests.bench

# Ruff, the import layers (pyproject.toml [tool.importlinter]) and sqlfluff on the dbt models.
lint: $(STAMP)
	@$(VENV)/bin/ruff check govctl ingestion warehouse dags expectations infra tests
	@set -o pipefail; $(VENV)/bin/lint-imports --no-cache | tail -n 3
	@$(VENV)/bin/sqlfluff lint dbt_project/models --disable-progress-bar --nocolor
