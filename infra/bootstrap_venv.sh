#!/usr/bin/env bash
# Create the virtualenv from the pinned requirements.txt.
# Uses uv when it can be had (pip install uv first), falls back to plain pip.
# Bytecode is compiled: without .pyc every Airflow process starts twice as slowly.
set -euo pipefail
venv=${1:-.venv}
py=${PYTHON:-python3}
export UV_COMPILE_BYTECODE=1
if ! command -v uv >/dev/null 2>&1; then
    "$py" -m pip install --quiet uv >/dev/null 2>&1 || echo "bootstrap: uv not available, using pip" >&2
fi
start=$(date +%s)
if command -v uv >/dev/null 2>&1; then
    [ -x "$venv/bin/python" ] || uv venv --quiet --python "$py" "$venv"
    uv pip install --quiet --python "$venv/bin/python" --compile-bytecode -r requirements.txt
else
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r requirements.txt
    "$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null || true
fi
echo "bootstrap: $venv ready in $(( $(date +%s) - start ))s" >&2
