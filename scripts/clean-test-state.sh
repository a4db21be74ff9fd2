#!/usr/bin/env bash
# Drops what earlier test runs left behind: databases named t_*, RabbitMQ queues named t.* and
# Redis keys under t:* (test prefixes). New test queues expire by themselves; this catches runs
# that were killed, and keeps Redis from filling with keys that slow every SCAN (the routing
# rebuild walks the keyspace).
set -euo pipefail
ADMIN_URL="${TEST_PG_ADMIN_URL:-${PGURL_ADMIN:-postgres://postgres:postgres@127.0.0.1:5432/postgres}}"
dbs=$(psql "$ADMIN_URL" -Atqc "SELECT datname FROM pg_database WHERE datname LIKE 't\_%'" 2>/dev/null || true)
n=0
for db in $dbs; do
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 && n=$((n + 1))
done
q=0
if command -v rabbitmqctl >/dev/null 2>&1 && rabbitmqctl -q list_queues name >/dev/null 2>&1; then
  queues=$(rabbitmqctl -q list_queues name 2>/dev/null | grep '^t\.' || true)
  # Over one AMQP connection when a built drop-test-queues is at hand (a second for hundreds
  # of queues); one rabbitmqctl call per queue (about 0.6 s each) otherwise.
  dropper=""
  root="$(cd "$(dirname "$0")/.." && pwd)"
  for bin in "$root/target/debug/drop-test-queues" "$root/target/release/drop-test-queues"; do
    [ -x "$bin" ] && dropper="$bin" && break
  done
  if [ -n "$queues" ] && [ -n "$dropper" ]; then
    q=$(printf '%s\n' "$queues" | "$dropper" 2>/dev/null || echo 0)
  fi
  if [ -n "$queues" ] && [ "$q" = 0 ]; then
    for queue in $queues; do
      rabbitmqctl -q delete_queue "$queue" >/dev/null 2>&1 && q=$((q + 1))
    done
  fi
fi
k=0
REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379}"
if command -v redis-cli >/dev/null 2>&1 && redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
  k=$(redis-cli -u "$REDIS_URL" --scan --pattern 't:*' | wc -l)
  redis-cli -u "$REDIS_URL" --scan --pattern 't:*' | xargs -r -n 500 redis-cli -u "$REDIS_URL" unlink >/dev/null
fi
echo "test state: dropped $n databases, $q queues and $k Redis keys from earlier runs"
