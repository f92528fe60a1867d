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

.PHONY: venv demo test test-faults airflow bi dsn stop bench lint demo-dirty reports rollback

venv: $(STAMP)

$(STAMP): requirements.txt
	@bash infra/bootstrap_venv.sh $(VENV)
	@touch $(STAMP)

demo: $(STAMP)
	@$(PY) -m govctl demo

# A blocked publication: the dirty sample plus a mis-filed row; marts unchanged, the report says why.
demo-dirty: $(STAMP)
	@$(PY) -m govctl demo --dirty

# The auditors' report site (var/reports/index.html): rebuilt, and its path printed.
reports: $(STAMP)
	@$(PY) -m govctl reports

# Republish the kept previous version of the marts: make rollback REASON="…"
rollback: $(STAMP)
	@$(PY) -m govctl rollback --reason "$(REASON)"

# The suite without the fault drills (those take ~6 min; .ci/run runs them next with test-faults).
test: $(STAMP)
	@bash infra/ensure_chromium.sh
	@$(PY) -m pytest --ignore=tests/airflow/test_faults.py --ignore=tests/airflow/test_celery_faults.py --durations=15

# The fault drills: kills and a PostgreSQL restart on a supervised stack (run by .ci/run after make test).
test-faults: $(STAMP)
	@$(PY) -m pytest tests/airflow/test_faults.py tests/airflow/test_celery_faults.py -s

# make airflow [EXECUTOR=celery] [CELERY_WORKERS=2]: LocalExecutor, or CeleryExecutor with supervised workers
airflow: $(STAMP)
	@EXECUTOR=$(or $(EXECUTOR),local) CELERY_WORKERS=$(or $(CELERY_WORKERS),2) bash infra/airflow_local.sh

bi: $(STAMP)
	@bash infra/bi/install.sh
	@$(PY) -m infra.bi start

# make dsn [ROLE=ingest|transform|bi|auditor|steward|airflow]: the owner's DSN, or a login's (password in var/pgpass)
dsn: $(STAMP)
	@$(PY) -m infra.local_pg dsn $(if $(ROLE),--role $(ROLE))

stop: $(STAMP)
	@bash infra/airflow_local.sh stop || true
	@$(PY) -m infra.bi stop || true
	@$(PY) -m infra.local_pg stop

bench: $(STAMP)
	@$(PY) -m tests.bench

# Ruff, the import layers (pyproject.toml [tool.importlinter]) and sqlfluff on the dbt models.
lint: $(STAMP)
	@$(VENV)/bin/ruff check govctl ingestion warehouse dags expectations infra tests
	@set -o pipefail; $(VENV)/bin/lint-imports --no-cache | tail -n 3
	@$(VENV)/bin/sqlfluff lint dbt_project/models --disable-progress-bar --nocolor
