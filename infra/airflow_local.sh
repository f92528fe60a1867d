#!/usr/bin/env bash
# Local Airflow on the local warehouse: `make airflow` (start) and `make stop` (stop).
#
#   bash infra/airflow_local.sh [start]   start api-server (127.0.0.1:8080) first, then
#                                         scheduler, dag-processor, triggerer; wait healthy
#   bash infra/airflow_local.sh stop      stop them (pid files under var/airflow/run)
#   bash infra/airflow_local.sh status    show what runs and the health answer
#
# Metadata: database `airflow` of the local PostgreSQL (python -m infra.local_pg).
# Settings: python -m infra.airflow_env exports (LocalExecutor, parallelism 4, secrets
# and the admin password generated once under var/airflow, never committed).
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
COMPONENTS=(api-server scheduler dag-processor triggerer)
export GX_ANALYTICS_ENABLED=false DO_NOT_TRACK=1 SCARF_ANALYTICS=false DBT_SEND_ANONYMOUS_USAGE_STATS=false

alive() {  # alive NAME -> 0 when the pid in its pid file runs
    local pid_file="$RUN_DIR/$1.pid"
    [[ -f "$pid_file" ]] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

signal_group() {  # signal_group NAME SIGNAL: signal the component's process group (pid = pgid)
    local pid_file="$RUN_DIR/$1.pid" pid
    [[ -f "$pid_file" ]] || return 0
    pid="$(cat "$pid_file")"
    kill -0 "$pid" 2>/dev/null || return 0
    kill "-$2" -- "-$pid" 2>/dev/null || kill "-$2" "$pid" 2>/dev/null || true
}

stop_group() {  # stop_group NAME...: TERM them together, KILL what still runs after 30 s
    local name pid
    for name in "$@"; do signal_group "$name" TERM; done
    for name in "$@"; do
        [[ -f "$RUN_DIR/$name.pid" ]] || continue
        pid="$(cat "$RUN_DIR/$name.pid")"
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then signal_group "$name" KILL; echo "killed $name (pid $pid)"
        else echo "stopped $name (pid $pid)"; fi
        rm -f "$RUN_DIR/$name.pid"
    done
}

do_stop() {
    # The api-server last: the others report to its execution API while they shut down.
    stop_group scheduler dag-processor triggerer
    stop_group api-server
}

launch() {  # launch NAME ARGS...: own session (process group = pid), log + pid file
    local name="$1"; shift
    setsid "$AIRFLOW" "$@" >"$LOG_DIR/$name.log" 2>&1 < /dev/null &
    echo $! >"$RUN_DIR/$name.pid"
}

print_access() {
    echo
    echo "Airflow:   $URL"
    echo "user:      admin"
    echo "password:  $("$PY" -m infra.airflow_env password --home "$HOME_DIR")"
    echo "landing:   $("$PY" -c 'from warehouse.settings import get_settings; print(get_settings().landing_dir)')/<feed_id>/"
    echo "logs:      $LOG_DIR/<component>.log    stop: make stop"
}

do_start() {
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    local running=0 name
    for name in "${COMPONENTS[@]}"; do alive "$name" && running=$((running + 1)); done
    if (( running == ${#COMPONENTS[@]} )); then
        echo "Airflow already runs."
        print_access
        return 0
    fi
    do_stop >/dev/null  # a partial stack from an earlier crash: start clean

    local t0=$SECONDS
    "$PY" -m infra.local_pg start >/dev/null
    eval "$("$PY" -m infra.airflow_env exports --home "$HOME_DIR" --port "$PORT")"
    export WAREHOUSE_DSN="${WAREHOUSE_DSN:-$("$PY" -m infra.local_pg dsn)}"
    mkdir -p "$AIRFLOW__CORE__PLUGINS_FOLDER"

    if "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $PORT)) != 0)"; then
        echo "port $PORT is taken by another program; set AIRFLOW_PORT to use another one" >&2
        exit 1
    fi

    echo "migrating the Airflow metadata database ..."
    "$AIRFLOW" db migrate >"$LOG_DIR/db-migrate.log" 2>&1 || {
        tail -n 30 "$LOG_DIR/db-migrate.log" >&2; exit 1; }

    # The api-server first: tasks and the triggerer talk to its execution API.
    launch api-server api-server --host 127.0.0.1 --port "$PORT"
    "$PY" -m infra.airflow_env wait --url "$URL" --components "" --timeout 90 >/dev/null || {
        tail -n 30 "$LOG_DIR/api-server.log" >&2; do_stop; exit 1; }
    launch scheduler scheduler
    launch dag-processor dag-processor
    launch triggerer triggerer
    if ! "$PY" -m infra.airflow_env wait --url "$URL" --timeout 120 >/dev/null; then
        for name in "${COMPONENTS[@]}"; do
            echo "--- $name ---" >&2; tail -n 15 "$LOG_DIR/$name.log" >&2
        done
        do_stop
        exit 1
    fi
    echo "Airflow healthy after $((SECONDS - t0)) s (api-server, scheduler, dag-processor, triggerer)."
    print_access
}

do_status() {
    local name
    for name in "${COMPONENTS[@]}"; do
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
