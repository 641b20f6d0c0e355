#!/usr/bin/env bash
# Runs every cargo-fuzz target in tests/fuzz for a fixed time each and
# prints the number of executions. Crashes land in
# tests/fuzz/artifacts/<target>/ and make this script exit non-zero.
#
#   infra/scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 60 s per target, all targets. cargo-fuzz needs nightly features;
# on a stable toolchain RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz…"
    cargo install cargo-fuzz --locked
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

cd tests/fuzz
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -O
status=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    log="$(mktemp)"
    echo "== $target: ${seconds}s"
    if cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 -rss_limit_mb=2048 \
        >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH (see tests/fuzz/artifacts/$target/)"
        status=1
    fi
    execs="$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}' | tail -1)"
    rate="$(grep -E '^stat::average_exec_per_sec' "$log" | awk '{print $2}' | tail -1)"
    corpus="$(find "corpus/$target" -type f | wc -l)"
    echo "   $result: ${execs:-?} executions (${rate:-?}/s), corpus $corpus inputs"
    if [ "$result" != "ok" ]; then
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5 || true
    fi
    rm -f "$log"
done
exit "$status"
