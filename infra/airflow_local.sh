#!/usr/bin/env bash
# Local Airflow on the local warehouse: `make airflow` (start) and `make stop` (stop).
#
#   bash infra/airflow_local.sh [start]   migrate, then start the supervisor (infra/supervise.py),
#                                         which runs api-server (127.0.0.1:$AIRFLOW_PORT) first, then
#                                         scheduler, dag-processor, triggerer, and restarts any that
#                                         exits (backoff 1 s … 60 s); wait until all are healthy
#   bash infra/airflow_local.sh stop      stop the supervisor and every component process group,
#                                         including orphans of a supervisor that was killed
#   bash infra/airflow_local.sh status    show what runs and the health answer
#
# EXECUTOR=celery (make airflow EXECUTOR=celery): CeleryExecutor instead of LocalExecutor, plus
# CELERY_WORKERS (default 2) supervised Celery workers of CELERY_CONCURRENCY (default 2) slots:
# worker1 serves the queues build and ingest, worker2… serve ingest. Broker: the Redis at
# REDIS_URL (default redis://127.0.0.1:6379/0), keys prefixed airflow-<port>:; result backend:
# the metadata database. build_publish runs one task at a time (infra/deploy/airflow_local_settings.py).
#
# Metadata: database `airflow` of the local PostgreSQL (python -m infra.local_pg).
# Settings: python -m infra.airflow_env exports (LocalExecutor, parallelism 4, secrets
# and the admin password generated once under var/airflow, never committed).
# Logs: var/airflow/logs/<component>.log, the previous ones kept as .log.1 … .log.5;
# supervisor.log says when and why a component exited and was restarted.
# No log server listens: the api-server reads task and trigger logs from var/airflow/logs
# directly (scheduler, triggerer and Celery workers run with --skip-serve-logs; Airflow's log
# server binds every interface, and two workers on one machine could not share its port).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
AIRFLOW="$ROOT/.venv/bin/airflow"
HOME_DIR="$ROOT/var/airflow"
RUN_DIR="$HOME_DIR/run"
LOG_DIR="$HOME_DIR/logs"
PORT="${AIRFLOW_PORT:-8080}"
URL="http://127.0.0.1:$PORT"
EXECUTOR="${EXECUTOR:-local}"
CELERY_WORKERS="${CELERY_WORKERS:-2}"
CELERY_CONCURRENCY="${CELERY_CONCURRENCY:-2}"
COMPONENTS=(api-server scheduler dag-processor triggerer)
WORKERS=()
case "$EXECUTOR" in
    local) ;;
    celery)
        [[ "$CELERY_WORKERS" =~ ^[1-9][0-9]*$ ]] || { echo "CELERY_WORKERS must be 1 or more" >&2; exit 2; }
        for ((i = 1; i <= CELERY_WORKERS; i++)); do WORKERS+=("worker$i"); done
        COMPONENTS+=("${WORKERS[@]}") ;;
    *) echo "EXECUTOR must be local or celery, not '$EXECUTOR'" >&2; exit 2 ;;
esac
export GX_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 SCARF_ANALYTICS=false DBT_SEND_ANONYMOUS_USAGE_STATS=false

alive() {  # alive NAME -> 0 when the pid in its pid file runs
    local pid_file="$RUN_DIR/$1.pid"
    [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

other_workers() {  # Celery workers with a pid file that this EXECUTOR / CELERY_WORKERS would not start
    local pid_file name
    for pid_file in "$RUN_DIR"/worker*.pid; do
        [[ -f "$pid_file" ]] || continue
        name="$(basename "$pid_file" .pid)"
        [[ " ${COMPONENTS[*]} " == *" $name "* ]] || echo "$name"
    done
}

do_stop() {
    "$PY" -m infra.supervise stop --run-dir "$RUN_DIR" --grace 30
}

launch_supervised() {  # the supervisor in its own session; it starts and restarts the components
    local workers=() line
    if [[ ${#WORKERS[@]} -gt 0 ]]; then  # worker1: queues build,ingest; the others: ingest (infra/airflow_env.py)
        while IFS= read -r line; do workers+=(--component "$line"); done < <("$PY" -m infra.airflow_env \
            worker-components --airflow "$AIRFLOW" --workers "$CELERY_WORKERS" --concurrency "$CELERY_CONCURRENCY")
    fi
    setsid "$PY" -m infra.supervise run --run-dir "$RUN_DIR" --log-dir "$LOG_DIR" --grace 30 \
        --component "api-server=$AIRFLOW api-server --host 127.0.0.1 --port $PORT" \
        --after-port "$PORT" \
        --component "scheduler=$AIRFLOW scheduler --skip-serve-logs" \
        --component "dag-processor=$AIRFLOW dag-processor" \
        --component "triggerer=$AIRFLOW triggerer --skip-serve-logs" \
        "${workers[@]}" \
        >>"$LOG_DIR/supervisor.log" 2>&1 < /dev/null &
}

print_access() {
    echo
    echo "Airflow:   $URL"
    echo "user:      admin"
    echo "password:  $("$PY" -m infra.airflow_env password --home "$HOME_DIR")"
    echo "landing:   $("$PY" -c 'from warehouse.settings import get_settings; print(get_settings().landing_uri.rstrip("/"))')/<feed_id>/"
    echo "logs:      $LOG_DIR/<component>.log (restarts: supervisor.log)    stop: make stop"
    if [[ "$EXECUTOR" == celery ]]; then
        echo "executor:  CeleryExecutor, workers ${WORKERS[*]} (worker1: queues build,ingest; others: ingest)"
        echo "broker:    $AIRFLOW__CELERY__BROKER_URL, keys $AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX*"
    fi
}

do_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local running=0 name
    for name in supervisor "${COMPONENTS[@]}"; do alive "$name" && running=$((running + 1)); done
    if (( running == ${#COMPONENTS[@]} + 1 )) && [[ -z "$(other_workers)" ]]; then
        echo "Airflow already runs."
        eval "$("$PY" -m infra.airflow_env exports --home "$HOME_DIR" --port "$PORT" --executor "$EXECUTOR")"
        print_access
        return 0
    fi
    do_stop >/dev/null  # a partial stack from an earlier crash: start clean

    local t0=$SECONDS
    [[ -f "$LOG_DIR/db-migrate.log" ]] && mv -f "$LOG_DIR/db-migrate.log" "$LOG_DIR/db-migrate.log.1"
    "$PY" -m infra.local_pg start >/dev/null
    eval "$("$PY" -m infra.airflow_env exports --home "$HOME_DIR" --port "$PORT" --executor "$EXECUTOR")"
    export WAREHOUSE_DSN="${WAREHOUSE_DSN:-$("$PY" -m infra.local_pg dsn)}"
    mkdir -p "$AIRFLOW__CORE__PLUGINS_FOLDER"

    if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)) != 0)"; then
        echo "port $PORT is taken by another program; set AIRFLOW_PORT to use another one" >&2
        exit 1
    fi

    if [[ "$EXECUTOR" == celery ]] && ! "$PY" -c "import os, redis
redis.Redis.from_url(os.environ['AIRFLOW__CELERY__BROKER_URL'], socket_connect_timeout=3).ping()" 2>/dev/null; then
        echo "the Celery broker $AIRFLOW__CELERY__BROKER_URL does not answer; start Redis or set REDIS_URL" >&2
        exit 1
    fi

    echo "migrating the Airflow metadata database ..."
    "$AIRFLOW" db migrate >"$LOG_DIR/db-migrate.log" 2>&1 || {
        tail -n 30 "$LOG_DIR/db-migrate.log" >&2; exit 1; }

    launch_supervised
    if ! { "$PY" -m infra.airflow_env wait --url "$URL" --timeout 180 >/dev/null && { [[ ${#WORKERS[@]} -eq 0 ]] ||
            "$PY" -m infra.airflow_env wait-workers --names "$(IFS=,; echo "${WORKERS[*]}")" --timeout 120 >/dev/null; }; }
    then
        for name in supervisor "${COMPONENTS[@]}"; do
            echo "--- $name ---" >&2; tail -n 15 "$LOG_DIR/$name.log" >&2 || true
        done
        do_stop >/dev/null
        exit 1
    fi
    echo "Airflow healthy after $((SECONDS - t0)) s (${COMPONENTS[*]})."
    print_access
}

do_status() {
    local name extra=()
    mapfile -t extra < <(other_workers)
    for name in supervisor "${COMPONENTS[@]}" "${extra[@]}"; do
        if alive "$name"; then echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"))"; else echo "$name: stopped"; fi
    done
    "$PY" -c "from infra.airflow_env import health; print(health('$URL'))" 2>/dev/null || echo "api-server: no answer at $URL"
}

case "${1:-start}" in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
