#!/usr/bin/env bash
# Runs every test of switchboard on a fresh Debian machine with the Rust toolchain:
# installs what the tests need if it is missing, checks formatting and lints,
# then runs the unit, integration, property and binary tests, and the benchmarks
# once each in test mode (so they cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real (each test starts its own server on a
# free loopback port and kills it).
packages=(redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Benchmarks once each in test mode, so they cannot rot; then every test.
cargo test --workspace --benches --locked
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --tests --locked 2>&1 | tee "$log"
# The whole hub behaviour suite once more, on the Redis store.
SWITCHBOARD_TEST_STORE=redis cargo test --locked --test hub 2>&1 | tee -a "$log"
awk '/^test result:/ { p += $4; f += $6 } END { printf "summary: %d passed, %d failed\n", p, f }' "$log"
