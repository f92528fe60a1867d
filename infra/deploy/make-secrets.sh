#!/usr/bin/env bash
# Creates ./secrets/ for compose.yaml: random passwords and keys, and the URLs built from
# them. Never overwrites an existing file (rotate by deleting it and restarting the
# services that use it). The directory is 0700, so no other host user can read a secret.
# Run as root, each file is given to the user of the container that reads it, mode 0400;
# otherwise the files are 0444 inside the 0700 directory (containers run as other uids).
set -euo pipefail
cd "$(dirname "$0")"
umask 077
mkdir -p secrets
chmod 0700 secrets

random() { openssl rand -hex 32; }

put() {  # put NAME OWNER_UID VALUE
    local path="secrets/$1"
    [[ -e "$path" ]] && return 0
    printf '%s' "$3" > "$path"
    if [[ "$(id -u)" == 0 ]]; then chown "$2:0" "$path" && chmod 0400 "$path"; else chmod 0444 "$path"; fi
}

read_or() { [[ -e "secrets/$1" ]] && cat "secrets/$1" || random; }

AIRFLOW_UID=50000
POSTGRES_UID=999
REDIS_UID=999

airflow_db=$(read_or airflow_db_password)
warehouse=$(read_or warehouse_password)
superset_db=$(read_or superset_db_password)
redis=$( [[ -e secrets/redis.conf ]] && sed -n 's/^requirepass //p' secrets/redis.conf || random)

put postgres_superuser_password "$POSTGRES_UID" "$(random)"
put airflow_db_password "$POSTGRES_UID" "$airflow_db"
put warehouse_password "$POSTGRES_UID" "$warehouse"
put superset_db_password "$POSTGRES_UID" "$superset_db"
put redis.conf "$REDIS_UID" "requirepass $redis
appendonly yes
"
put airflow_admin_passwords.json "$AIRFLOW_UID" "{\"admin\": \"$(random)\"}"
put airflow_metadata_url "$AIRFLOW_UID" "postgresql+psycopg2://airflow:$airflow_db@postgres:5432/airflow"
put celery_broker_url "$AIRFLOW_UID" "redis://:$redis@redis:6379/0"
put celery_result_backend "$AIRFLOW_UID" "db+postgresql://airflow:$airflow_db@postgres:5432/airflow"
put airflow_fernet_key "$AIRFLOW_UID" "$(openssl rand -base64 32 | tr '+/' '-_')"
put airflow_api_secret_key "$AIRFLOW_UID" "$(random)"
put airflow_jwt_secret "$AIRFLOW_UID" "$(random)$(random)"
put warehouse_pgpass "$AIRFLOW_UID" "postgres:5432:warehouse:governance:$warehouse"
put pii_hmac_key "$AIRFLOW_UID" "$(random)"
put superset_secret_key 1000 "$(random)"
put superset_admin_password 1000 "$(random)"
put superset_metadata_url 1000 "postgresql+psycopg2://superset:$superset_db@postgres:5432/superset"
echo "secrets in $(pwd)/secrets (admin password of Airflow: secrets/airflow_admin_passwords.json)"
