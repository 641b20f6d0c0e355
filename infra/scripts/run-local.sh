#!/usr/bin/env bash
# One command runs the whole bridge locally: builds it, makes sure .venv has
# moto server, then starts the local stack (moto server for SQS/DynamoDB, the
# e-conomic sandbox, the webhook endpoint, the transfer poller, rescan) and
# seeds a demo shop. Options are passed on (try --help). Ctrl-C stops it all.
#
# To talk to real e-conomic instead of the sandbox, set all three of
# ECONOMIC_BASE_URL, ECONOMIC_APP_SECRET_TOKEN and ECONOMIC_AGREEMENT_GRANT_TOKEN.
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=infra/scripts/python-env.sh
source infra/scripts/python-env.sh
ensure_python_env

echo "==> building (first run takes a few minutes)"
cargo build --locked --profile speed -p local-stack -p bridgectl --quiet 2>/dev/null \
  || cargo build --locked --profile speed -p local-stack
exec "${CARGO_TARGET_DIR:-target}/speed/local-stack" "$@"
