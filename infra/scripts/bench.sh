#!/usr/bin/env bash
# Performance run: ingest/mapping micro-benchmarks, cold start of the three
# Lambda binaries, promotion day and webhook-to-invoice latency through the
# local stack. Prints a summary at the end. Not part of test.sh.
#
#   infra/scripts/bench.sh            # everything (about 11 minutes on 2 cores)
#   BENCH_QUICK=1 infra/scripts/bench.sh   # shorter criterion runs
#
# Needs .venv (moto server; infra/scripts/python-env.sh creates it) and
# python3. Results also go to target/bench/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=$ROOT/target/bench
mkdir -p "$OUT"
: > "$OUT/summary.txt"

say() { printf '\n== %s\n' "$*"; }
keep() { tee -a "$OUT/summary.txt"; }

{
  echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  rustc: $(rustc --version)"
} | keep

# Bound each step so the whole script stays well under 15 minutes.
CRITERION_ARGS=(--warm-up-time 1 --measurement-time 3)
if [[ "${BENCH_QUICK:-}" == 1 ]]; then CRITERION_ARGS=(--warm-up-time 1 --measurement-time 1); fi
# Benchmark names and their estimates (not criterion's change-since-last-run lines).
CRITERION_LINES='^(ingest|mapping)/|(time|thrpt): +\[[0-9.]+ (ns|µs|ms|s|elem/s|Kelem/s|Melem/s) '

say "criterion: ingest hot path (means)"
timeout 300 cargo bench -p bridge --bench ingest -- "${CRITERION_ARGS[@]}" 2>&1 \
  | grep -E "$CRITERION_LINES" | keep || true

if [[ -f shared/benches/mapping.rs ]]; then
  say "criterion: mapping (means)"
  timeout 300 cargo bench -p bridge --bench mapping -- "${CRITERION_ARGS[@]}" 2>&1 \
    | grep -E "$CRITERION_LINES" | keep || true
fi

say "percentiles: one thread, 100,000 requests each"
timeout 300 cargo bench -p bridge --bench ingest -- --percentiles 100000 2>/dev/null \
  | grep -E '^(ingest_hot_path|map_order|body_bytes)' | keep

say "cold start: spawn → first Runtime API poll (the release profile SAM ships)"
cargo build --release -p ingest -p transfer -p rescan 2>&1 | tail -1
python3 infra/bench/coldstart.py --runs 25 --binary-dir "${CARGO_TARGET_DIR:-target}/release" | keep

say "promotion day and latency through the local stack"
cargo build --profile speed -p local-stack --bin loadtest 2>&1 | tail -1
# e-conomic's own bucket (10,000 tokens per 60 s): the stack's own pace.
timeout 400 "${CARGO_TARGET_DIR:-target}/speed/loadtest" "$@" | keep || echo "loadtest: FAILED (see above)" | keep
# A scaled-down bucket the burst has to wait for: the pacing against the floor.
timeout 400 infra/scripts/promotion-day.sh "$@" \
  | sed 's/^promotion:/promotion_day:/' | keep || echo "promotion day: FAILED" | keep

say "summary"
cat "$OUT/summary.txt"
