#!/usr/bin/env bash
# Lints and renders every Helm chart with Helm's own library (PyPI helm-python-sdk; no helm
# binary needed) and validates every rendered manifest against the Kubernetes schemas
# (kubernetes-validate --strict). Tools live in .venv/, installed on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
REQ="helm-python-sdk==0.2.2 kubernetes-validate==1.31.0 PyYAML==6.0.2"
if [ ! -x "$VENV/bin/python" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV"
  fi
fi
stamp="$VENV/.chart-tools"
if [ "$(cat "$stamp" 2>/dev/null)" != "$REQ" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check $REQ
  echo "$REQ" >"$stamp"
fi
exec "$VENV/bin/python" scripts/chart_check.py "$@"
