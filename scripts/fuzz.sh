#!/usr/bin/env bash
# API fuzzing: starts each of the five services from target/debug on a fresh database of its
# own, validates its /openapi.json (openapi-spec-validator; unique operationIds; no `default`
# responses) and runs schemathesis against it as every role (and, when devtoken supports
# them, as a service holding every scope the document names and as staff with each function).
# A 5xx, or a status the operation does not document, fails the run. The report goes to
# target/fuzz/report.md (and report.json). Tools live in .venv/, installed on first use.
#
#   scripts/fuzz.sh                          everything (`make fuzz` builds and checks deps first)
#   scripts/fuzz.sh --services refund,intake --roles admin --max-examples 10
#   scripts/fuzz.sh --help                   every option
#
# Needs PostgreSQL, Redis and RabbitMQ on their default ports (scripts/deps.sh) and the
# binaries from `cargo build --workspace --bins`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
REQ="schemathesis==4.32.5 openapi-spec-validator==0.9.0"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
fi
stamp="$VENV/.fuzz-tools"
if [ "$(cat "$stamp" 2>/dev/null)" != "$REQ" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check $REQ
  echo "$REQ" >"$stamp"
fi
exec "$VENV/bin/python" -u scripts/fuzz.py "$@"
