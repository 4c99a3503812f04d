#!/bin/bash
# Creates one database per OMS service (each service owns its data).
set -euo pipefail
for db in ${POSTGRES_MULTIPLE_DATABASES//,/ }; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" -c "CREATE DATABASE $db"
done
