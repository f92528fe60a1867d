#!/usr/bin/env bash
# Entry point of the governance platform image: turns mounted secret files into what the
# programs read, then runs the command (an `airflow …` or `python -m …` line).
#
#   <NAME>_FILE=/run/secrets/x   → exports NAME with the file's content (e.g. PII_HMAC_KEY_FILE).
#                                  The value exists only in this process's environment, never
#                                  in the compose file, the image or `docker inspect`.
#   WAREHOUSE_PGPASS_FILE        → installed as ~/.pgpass (mode 0600, as libpq requires), so
#                                  WAREHOUSE_DSN carries no password.
set -euo pipefail

while IFS='=' read -r name path; do
    target="${name%_FILE}"
    [[ "$target" == "WAREHOUSE_PGPASS" ]] && continue
    [[ -r "$path" ]] || { echo "entrypoint: $name points at $path, which is not readable" >&2; exit 2; }
    export "$target=$(<"$path")"
done < <(env | grep -E '^[A-Z][A-Z0-9_]*_FILE=' || true)

if [[ -n "${WAREHOUSE_PGPASS_FILE:-}" ]]; then
    install -m 0600 "$WAREHOUSE_PGPASS_FILE" "$HOME/.pgpass"
    export PGPASSFILE="$HOME/.pgpass"
fi

exec "$@"
