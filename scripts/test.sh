#!/usr/bin/env bash
# Runs every test of switchboard on a fresh Debian machine with the Rust toolchain:
# installs what the tests need if it is missing, checks formatting and lints, and
# type-checks the browser code, then runs the unit, integration, property and
# binary tests (the Autobahn conformance cases among them), the benchmarks once
# each in test mode (so they cannot rot), the fuzz targets for a short while,
# schemathesis against the served OpenAPI document, and the browser tests
# (web-widget/test/, Debian's chromium driven by playwright-core against the real
# binary). Ends with one `summary: N passed, N failed` line
# counting cargo's tests and node's, and exits non-zero if any step failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real (each test starts its own server on a
# free loopback port and kills it), and what the browser tests run on.
packages=(redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
# Commands, not packages: node and npm may come from elsewhere than Debian.
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Fonts, so that screenshots show Chinese and Arabic text rather than boxes.
noto_fonts() { # $1: language; prints how many Noto faces cover it
  command -v fc-list >/dev/null 2>&1 || { echo 0; return; }
  fc-list ":lang=$1" family 2>/dev/null | grep -ci noto || true
}
[ "$(noto_fonts zh)" -gt 0 ] || missing+=(fonts-noto-cjk)
[ "$(noto_fonts ar)" -gt 0 ] || missing+=(fonts-noto-core)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

# Python tools the tests run, pinned in scripts/requirements-test.txt, in a
# virtual environment of their own (Debian's python3 refuses `pip install`
# outside one); reinstalled only when the requirements change.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || {
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq python3 python3-venv
}
py_env=target/python
py_stamp=$py_env/.switchboard-requirements
if [ ! -x "$py_env/bin/python3" ] || ! cmp -s scripts/requirements-test.txt "$py_stamp"; then
  python3 -m venv "$py_env"
  "$py_env/bin/python3" -m pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt "$py_stamp"
fi
export PATH="$PWD/$py_env/bin:$PATH"

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# The browser side's npm packages, exactly as locked. `npm ci` starts from an empty
# node_modules, so it is skipped when node_modules was installed from this very
# lockfile (npm's own node_modules/.package-lock.json, and the node version, as
# they were after the last `npm ci` here).
npm_stamp=web-widget/node_modules/.switchboard-npm-ci
npm_state() {
  sha256sum web-widget/package-lock.json web-widget/node_modules/.package-lock.json 2>/dev/null || true
  node --version
}
if [ -f "$npm_stamp" ] && [ "$(npm_state)" = "$(cat "$npm_stamp")" ]; then
  echo "web-widget/node_modules: up to date with package-lock.json"
else
  (cd web-widget && npm ci --no-audit --no-fund)
  npm_state >"$npm_stamp"
fi
# The browser code's JSDoc types.
web-widget/node_modules/.bin/tsc -p web-widget/tsconfig.json

# The tests: each step's output goes to the log the summary counts; a failed step
# does not stop the others, but makes the script fail after the summary.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed_steps=()
step() { # step NAME COMMAND...
  local name=$1 rc=0
  shift
  "$@" 2>&1 | tee -a "$log" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "test.sh: step '$name' failed (exit $rc)"
    failed_steps+=("$name")
  fi
}
# Benchmarks once each in test mode, so they cannot rot; then every test
# (`--no-fail-fast`: a failing test binary must not hide the ones after it).
step benches cargo test --workspace --benches --locked --no-fail-fast
step tests cargo test --workspace --tests --locked --no-fail-fast
# The whole hub behaviour suite once more, on the Redis store.
step hub-on-redis env SWITCHBOARD_TEST_STORE=redis cargo test --locked --no-fail-fast --test hub
# The fuzz targets (fuzz/: the frame decoder and the secret scanner): every
# committed regression input replayed, then each target fuzzed for 15 s.
# Longer by hand: scripts/fuzz.sh 600.
step fuzz scripts/fuzz.sh 15
# The browser tests run target/debug/switchboard (web-widget/test/harness.mjs: BIN),
# the binary `cargo test` just built for the integration tests. `cargo build`
# builds it again with other dependency features (over a minute on a cold target),
# so it runs only when the binary is missing.
[ -x target/debug/switchboard ] || step build cargo build --locked --bin switchboard
# The REST API against its own OpenAPI document (schemathesis; no 5xx, nothing
# outside the document), on the same binary.
step schemathesis scripts/schemathesis.sh
step browser node web-widget/test/run.mjs --test-reporter=tap

# cargo: `test result: ok. P passed; F failed; ...` per test binary. node (TAP):
# `# pass P`, `# fail F`, `# cancelled C` at the end of its run (`ℹ pass P` with
# the spec reporter); a cancelled test counts as failed.
awk '
  /^test result:/ { p += $4; f += $6 }
  /^(#|ℹ) pass [0-9]+$/ { np = $3 }
  /^(#|ℹ) (fail|cancelled) [0-9]+$/ { nf[$2] = $3 }
  END { printf "summary: %d passed, %d failed\n", p + np, f + nf["fail"] + nf["cancelled"] }
' "$log"
if [ ${#failed_steps[@]} -gt 0 ]; then
  echo "test.sh: failed: ${failed_steps[*]}"
  exit 1
fi
