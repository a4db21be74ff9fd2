#!/usr/bin/env bash
# Builds release binaries and runs the benchmarks (tests/src/bin/bench.rs). Extra arguments go
# to the bench binary: scripts/bench.sh --seconds 20 --clients 64 --rate 200
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in pgbench redis-benchmark; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/deps.sh" >&2; exit 1; }
done
cargo build --release --workspace --bins
# Leftovers of earlier runs would slow what is measured (Redis SCANs, Postgres catalogs).
scripts/clean-test-state.sh
SYSTEM_TEST_BIN_DIR="$PWD/target/release" ./target/release/bench "$@"
