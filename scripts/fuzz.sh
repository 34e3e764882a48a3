#!/usr/bin/env bash
# Fuzz the frame decoder and the secret scanner: `scripts/fuzz.sh [SECONDS]`.
#
# Targets (fuzz/fuzz_targets/, libFuzzer through cargo-fuzz):
#   frames           protocol::parse as a customer and as an agent frame
#   redact           SecretScanner::redact: masks, nothing added, idempotent
#   asks_for_secret  secrets::asks_for_secret
#
# 1. installs cargo-fuzz if it is missing (pinned: 0.13.2);
# 2. builds the targets on the stable toolchain;
# 3. replays every committed regression input, fuzz/regressions/<target>/*
#    (each once: any crash fails the run);
# 4. fuzzes each target for SECONDS (default 20), one after the other, one
#    process each (the machine has 2 cores), from the committed seeds
#    (fuzz/seeds/<target>/) and the working corpus (fuzz/corpus/<target>/,
#    not committed; it grows from run to run on one machine).
# Exits non-zero on the first crash, timeout or failed property, printing the
# input that did it (fuzz/artifacts/<target>/...). Commit such an input under
# fuzz/regressions/<target>/ with the fix. Longer by hand: scripts/fuzz.sh 600.
#
# Stable only: with `--sanitizer none` cargo-fuzz passes no -Z flag (no
# RUSTC_BOOTSTRAP needed), and Rust code needs no AddressSanitizer to be
# memory safe (the project forbids `unsafe`); what is fuzzed for is panics,
# failed assertions, overflow (debug assertions are on: `--dev`) and hangs.
# Build: `--dev`, no debug info, opt-level 0 but for the code the targets run
# (fuzz/Cargo.toml says why and what it costs); fuzz/target holds it. A cold
# build takes about 5 minutes on 2 cores, a warm one seconds.
set -euo pipefail

seconds="${1:-20}"
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS]" >&2
    exit 2
    ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cargo_fuzz_version="0.13.2"
targets=(frames redact asks_for_secret)
declare -A max_len=([frames]=4096 [redact]=8192 [asks_for_secret]=8192)

# The stable toolchain, also where a rustup default or a rust-toolchain file
# says nightly. A machine whose one toolchain has another name uses it.
toolchain=()
if command -v rustup >/dev/null 2>&1 && rustup run stable rustc --version >/dev/null 2>&1; then
    toolchain=(+stable)
fi

if ! cargo "${toolchain[@]}" fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
    cargo "${toolchain[@]}" install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

build_flags=(--sanitizer none --dev)
fuzz() {
    cargo "${toolchain[@]}" fuzz "$@"
}

echo "fuzz: building ${targets[*]} ($(cargo "${toolchain[@]}" fuzz --version), $(rustc "${toolchain[@]}" --version))"
fuzz build "${build_flags[@]}"

logs="$root/fuzz/target/logs"
mkdir -p "$logs"

# A failed run: what failed, and the inputs to keep (the artifacts libFuzzer
# wrote since the run began).
marker="$logs/.started"
failed() {
    local target="$1" log="$2" artifact found=0
    echo "fuzz: $target FAILED; the end of its log ($log):" >&2
    tail -n 40 "$log" >&2
    while IFS= read -r artifact; do
        found=1
        echo "fuzz: $target: crashing input: $artifact" >&2
        echo "fuzz: reproduce: cargo ${toolchain[*]} fuzz run ${build_flags[*]} $target $artifact" >&2
    done < <(find "$root/fuzz/artifacts/$target" -type f -newer "$marker" 2>/dev/null)
    if [ "$found" = 0 ]; then
        # Replayed files: libFuzzer names each before it runs it.
        artifact="$(sed -n 's/^Running: //p' "$log" | tail -n 1)"
        if [ -n "$artifact" ]; then
            [[ "$artifact" == /* ]] || artifact="$root/$artifact"
            echo "fuzz: $target: crashing input: $artifact" >&2
        else
            echo "fuzz: $target: no input to blame (a build or start-up failure?)" >&2
        fi
    fi
    exit 1
}

for target in "${targets[@]}"; do
    regressions="fuzz/regressions/$target"
    [ -d "$regressions" ] || continue
    mapfile -t inputs < <(find "$regressions" -type f | sort)
    [ "${#inputs[@]}" -gt 0 ] || continue
    log="$logs/$target-regressions.log"
    touch "$marker"
    echo "fuzz: $target: replaying ${#inputs[@]} regression input(s)"
    if ! fuzz run "${build_flags[@]}" "$target" "${inputs[@]}" -- -runs=1 >"$log" 2>&1; then
        failed "$target" "$log"
    fi
done

[ "$seconds" -gt 0 ] || exit 0
total=0
for target in "${targets[@]}"; do
    corpus="fuzz/corpus/$target"
    mkdir -p "$corpus"
    log="$logs/$target.log"
    touch "$marker"
    echo "fuzz: $target: ${seconds}s, max_len ${max_len[$target]}"
    if ! fuzz run "${build_flags[@]}" "$target" "$corpus" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -max_len="${max_len[$target]}" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        failed "$target" "$log"
    fi
    runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    cov="$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 || true)"
    echo "fuzz: $target: ok, ${runs:-?} runs (${rate:-?}/s), $cov, corpus $(find "$corpus" -type f | wc -l) inputs"
    total=$((total + ${runs:-0}))
done
echo "fuzz: all targets passed ($total runs)"
