#!/usr/bin/env bash
# Drops what earlier test runs left behind: databases named t_* and RabbitMQ queues named t.*.
# (New test queues expire by themselves; this catches runs that were killed.)
set -euo pipefail
ADMIN_URL="${TEST_PG_ADMIN_URL:-${PGURL_ADMIN:-postgres://postgres:postgres@127.0.0.1:5432/postgres}}"
dbs=$(psql "$ADMIN_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'" 2>/dev/null || true)
n=0
for db in $dbs; do
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 && n=$((n + 1))
done
q=0
if command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl -q list_queues name >/dev/null 2>&1; then
  for queue in $(rabbitmqctl -q list_queues name 2>/dev/null | grep '^t\.' || true); do
    rabbitmqctl -q delete_queue "$queue" >/dev/null 2>&1 && q=$((q + 1))
  done
fi
echo "test state: dropped $n databases and $q queues from earlier runs"
