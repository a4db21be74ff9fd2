#!/usr/bin/env bash
# PostgreSQL, Redis and RabbitMQ for `make run`, `make test` and `make bench`.
#
# Each is used as it is when it already answers on its default port on 127.0.0.1; otherwise it
# is installed from the OS packages (Debian/Ubuntu) when missing, and started, with or without
# systemd. Then the five service databases are created, and the client tools the scripts use
# (psql, pgbench, redis-cli, redis-benchmark, curl, python3-venv) are installed when missing.
#
#   scripts/deps.sh            make everything available
#   scripts/deps.sh --check    only report; exit 1 if something is not answering
#
# The services connect to PostgreSQL as postgres/postgres over TCP; set PGURL_ADMIN to use
# other credentials for creating the databases.
set -euo pipefail

CHECK_ONLY=0
[ "${1:-}" = "--check" ] && CHECK_ONLY=1
ADMIN_URL="${PGURL_ADMIN:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"
DATABASES=(intake routing refund training_scheduling notifications)
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_UPDATED=0

say() { printf '%-10s %s\n' "$1" "$2"; }
die() { echo "deps: $*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "cannot install $* here: no apt-get (install it yourself, then rerun)"
  if [ "$APT_UPDATED" -eq 0 ]; then
    $SUDO apt-get update -qq
    APT_UPDATED=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_port() { # name port log
  for _ in $(seq 1 120); do
    port_open "$2" && return 0
    sleep 0.5
  done
  die "$1 did not start listening on 127.0.0.1:$2 (see $3)"
}

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

ensure_postgres() {
  if port_open 5432; then say postgres "using the server on 127.0.0.1:5432"; return; fi
  [ "$CHECK_ONLY" -eq 1 ] && { say postgres "NOT answering on 127.0.0.1:5432"; return 1; }
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say postgres "installing from the OS packages..."
    apt_install postgresql postgresql-contrib
  fi
  local ver
  ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if [ ! -d "/etc/postgresql/$ver/main" ]; then
    $SUDO pg_createcluster "$ver" main >/dev/null
  fi
  $SUDO pg_ctlcluster "$ver" main start || true
  wait_port postgres 5432 "/var/log/postgresql/postgresql-$ver-main.log"
  # A fresh server authenticates TCP clients by password: give postgres the documented one.
  as_postgres psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
  say postgres "started PostgreSQL $ver"
}

ensure_redis() {
  if port_open 6379; then say redis "using the server on 127.0.0.1:6379"; return; fi
  [ "$CHECK_ONLY" -eq 1 ] && { say redis "NOT answering on 127.0.0.1:6379"; return 1; }
  if ! command -v redis-server >/dev/null 2>&1; then
    say redis "installing from the OS packages..."
    apt_install redis-server
  fi
  if ! port_open 6379; then
    $SUDO mkdir -p /var/log/redis
    $SUDO redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --logfile /var/log/redis/edu-support.log
  fi
  wait_port redis 6379 /var/log/redis/edu-support.log
  say redis "started Redis"
}

ensure_rabbitmq() {
  if port_open 5672; then say rabbitmq "using the broker on 127.0.0.1:5672"; return; fi
  [ "$CHECK_ONLY" -eq 1 ] && { say rabbitmq "NOT answering on 127.0.0.1:5672"; return 1; }
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    say rabbitmq "installing from the OS packages..."
    apt_install rabbitmq-server
  fi
  if ! port_open 5672; then
    $SUDO rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  wait_port rabbitmq 5672 /var/log/rabbitmq/
  say rabbitmq "started RabbitMQ"
}

ensure_tools() {
  local missing=()
  command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
  command -v pgbench >/dev/null 2>&1 || missing+=(postgresql-contrib)
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
  if [ ${#missing[@]} -gt 0 ]; then
    say tools "installing ${missing[*]}..."
    apt_install "${missing[@]}"
  fi
}

ensure_databases() {
  if ! psql "$ADMIN_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    die "cannot connect to PostgreSQL as $ADMIN_URL; set PGURL_ADMIN to an admin URL that works (the services default to postgres:postgres)"
  fi
  local created=()
  for db in "${DATABASES[@]}"; do
    if [ "$(psql "$ADMIN_URL" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != "1" ]; then
      psql "$ADMIN_URL" -qc "CREATE DATABASE \"$db\"" >/dev/null
      created+=("$db")
    fi
  done
  if [ ${#created[@]} -gt 0 ]; then say databases "created ${created[*]}"; else say databases "all five present"; fi
}

status=0
ensure_postgres || status=1
ensure_redis || status=1
ensure_rabbitmq || status=1
[ "$CHECK_ONLY" -eq 1 ] && exit "$status"
ensure_tools
ensure_databases
