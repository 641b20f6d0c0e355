#!/usr/bin/env bash
# The chaos run: orders from several shops through the real handlers
# (moto server + in-process e-conomic sandbox) with ~30 % injected
# e-conomic faults, duplicate and concurrent webhooks, and transfer workers
# killed at random and right after creates; then drain and check.
#
#   infra/scripts/chaos.sh [--orders N] [--shops K] [--seed S] [--workers W]
#
# Defaults: 1000 orders, 3 shops, seed 1. Exit status 1 when a check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -x .venv/bin/moto_server ]; then
    infra/scripts/python-env.sh
fi
cargo build --profile speed -p local-stack --bin chaos
exec "${CARGO_TARGET_DIR:-target}/speed/chaos" "$@"
