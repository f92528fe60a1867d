#!/usr/bin/env bash
# Create (or bring up to date) the BI virtualenv from the committed lock infra/bi/requirements.txt.
#   bash infra/bi/install.sh [VENV]      default: .venv-bi at the repository root
# Superset has its own venv: its pins (SQLAlchemy 1.4, Flask 3, marshmallow 3) conflict with
# Airflow's. Python 3.11 via uv; bytecode compiled (start-up is much slower without .pyc).
# A stamp (the lock's hash) makes reruns a no-op.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$ROOT/.venv-bi}"
lock="$ROOT/infra/bi/requirements.txt"
py="${BI_PYTHON:-python3.11}"
stamp="$venv/.installed"
want="$(sha256sum "$lock" | cut -d' ' -f1)"
if [[ -x "$venv/bin/superset" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
if ! command -v uv >/dev/null 2>&1; then
    "$py" -m pip install --quiet uv >/dev/null 2>&1 || true
fi
start=$SECONDS
if command -v uv >/dev/null 2>&1; then
    [[ -x "$venv/bin/python" ]] || uv venv --quiet --python "$py" "$venv"
    uv pip sync --quiet --python "$venv/bin/python" --compile-bytecode "$lock"
else
    [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-deps -r "$lock"
    "$venv/bin/python" -m compileall -q "$venv/lib" >/dev/null || true
fi
echo "$want" >"$stamp"
echo "bi: $venv ready in $((SECONDS - start)) s ($(du -sh "$venv" | cut -f1))" >&2
