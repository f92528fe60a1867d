#!/bin/bash
# First start of the server only (docker-entrypoint-initdb.d): the logins and databases
# of the platform, with passwords read from the mounted secrets by psql itself (never on
# a command line). None of them is a superuser:
#   airflow     owns database airflow (Airflow metadata, Celery results)
#   governance  owns database warehouse; CREATEROLE so that the warehouse bootstrap can
#               create its group roles (gov_ingest, gov_transform, bi_reader, auditor)
#   superset    owns database superset (Superset metadata, profile bi)
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
\set airflow_password `cat /run/secrets/airflow_db_password`
\set warehouse_password `cat /run/secrets/warehouse_password`
\set superset_password `cat /run/secrets/superset_db_password`
create role airflow login password :'airflow_password';
create database airflow owner airflow;
create role governance login createrole password :'warehouse_password';
create database warehouse owner governance;
create role superset login password :'superset_password';
create database superset owner superset;
revoke connect on database warehouse from public;
revoke connect on database airflow from public;
revoke connect on database superset from public;
SQL
