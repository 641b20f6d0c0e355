#!/usr/bin/env bash
# Promotion day against e-conomic's token bucket, scaled down: a burst of
# orders for one shop through the whole local stack (moto, the e-conomic
# sandbox, ingest, 5 transfer workers each with its own e-conomic client, as
# 5 Lambda environments would run) against a bucket of e-conomic's shape,
# 120 tokens per 60 s instead of 10,000 (refill 2/s). 300 orders need about
# 300 tokens, so the bucket's floor is (300 - 120) / 2 = 90 s. The refill
# is set well below what the local stack drains on a busy 2-core VM (about
# 4 orders/s through moto), so that the bucket, not the machine, sets the
# pace; on a faster machine raise both (e.g. --orders 1500 --bucket-tokens
# 600: 10/s, floor 90 s). Checks: every order ok, one draft per order, 429s
# < 1 % of the calls, drain <= 1.15 x the floor. Not part of test.sh; about
# 2 minutes after the build.
#
#   infra/scripts/promotion-day.sh                       # as documented
#   infra/scripts/promotion-day.sh --retry-after-on-429  # 429s carry Retry-After
#   infra/scripts/promotion-day.sh --orders 2000         # any loadtest flag
#
# Needs .venv (moto server; infra/scripts/python-env.sh creates it).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --profile speed -p local-stack --bin loadtest 2>&1 | tail -1
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec "${CARGO_TARGET_DIR:-target}/speed/loadtest" --scenario promotion \
  --orders 300 --within 10 \
  --bucket-tokens 120 --bucket-window 60 \
  --concurrency 5 --batch-size 5 \
  --max-429-percent 1 --max-drain-over-floor 1.15 \
  --timeout 600 "$@"
