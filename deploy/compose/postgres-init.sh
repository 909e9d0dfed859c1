#!/usr/bin/env bash
# PostgreSQL's first start in compose: the DDL and DML roles for the API's database.
set -euo pipefail
MIGRATOR_PASSWORD=$(cat "$MIGRATOR_PASSWORD_FILE") APP_PASSWORD=$(cat "$APP_PASSWORD_FILE") \
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username postgres --dbname postgres \
  -v database="$POSTGRES_DB" -v migrator=api_migrator -v app=api_app -f /opt/roles.sql
