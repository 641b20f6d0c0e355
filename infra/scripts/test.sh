#!/usr/bin/env bash
# One command runs every test on a fresh machine:
#   1. a Python virtualenv (.venv) with moto server and cfn-lint, pinned;
#   2. formatting and clippy (warnings are errors);
#   3. every Rust test: unit, property, contract, and integration tests that
#      start moto server and the e-conomic sandbox on 127.0.0.1 themselves;
#   4. every relative link and #anchor in the Markdown docs;
#   5. cfn-lint on template.yaml.
set -euo pipefail
cd "$(dirname "$0")/../.."

# shellcheck source=infra/scripts/python-env.sh
source infra/scripts/python-env.sh
ensure_python_env

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test (unit, property, contract, integration)"
cargo test --workspace --locked

step "documentation links"
python3 infra/scripts/check-doc-links.py

step "cfn-lint template.yaml"
cfn-lint template.yaml

printf '\nAll checks passed.\n'
