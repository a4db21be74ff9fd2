#!/usr/bin/env bash
# Makes sure cargo is on PATH: uses the one installed, else installs Rust with rustup.
set -euo pipefail
if command -v cargo >/dev/null 2>&1; then
  exit 0
fi
if [ -x "$HOME/.cargo/bin/cargo" ]; then
  echo "cargo is installed in ~/.cargo/bin but not on PATH: run 'source ~/.cargo/env' and retry" >&2
  exit 1
fi
echo "installing Rust with rustup (https://rustup.rs)..."
if ! command -v curl >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl ca-certificates build-essential
fi
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
echo "Rust installed: run 'source ~/.cargo/env' (or open a new shell) and run make again" >&2
exit 1
