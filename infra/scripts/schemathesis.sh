#!/usr/bin/env bash
# Property-based API testing of the webhook endpoint against its OpenAPI
# description (shared/contracts/webhook.openapi.yaml): starts the local
# stack, runs schemathesis with a signing hook, and fails on any 5xx or any
# response that does not conform to the description.
#
#   infra/scripts/schemathesis.sh [MAX_EXAMPLES]     (default 200)
set -euo pipefail
cd "$(dirname "$0")/../.."
max_examples="${1:-200}"
port="${SCHEMATHESIS_PORT:-3917}"

if [ ! -x .venv/bin/python ]; then
    infra/scripts/python-env.sh
fi
.venv/bin/pip install --quiet -r infra/scripts/requirements.txt -r infra/scripts/requirements-extra.txt

# LOCAL_STACK_BIN: an already built local-stack binary (skips the build).
stack_bin="${LOCAL_STACK_BIN:-target/speed/local-stack}"
if [ -z "${LOCAL_STACK_BIN:-}" ]; then
    cargo build --profile speed -p local-stack --bin local-stack
fi
log="$(mktemp)"
"$stack_bin" --port "$port" >"$log" 2>&1 &
stack_pid=$!
trap 'kill "$stack_pid" 2>/dev/null || true; wait "$stack_pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 120); do
    if grep -q "Webhook URL" "$log"; then break; fi
    if ! kill -0 "$stack_pid" 2>/dev/null; then cat "$log"; exit 1; fi
    sleep 0.5
done

secret="$(.venv/bin/python -c 'import json; print(json.load(open("infra/local-stack/demo/demo-shop.json"))["webhook_secrets"][0]["secret"])')"
shop_id="$(.venv/bin/python -c 'import json; print(json.load(open("infra/local-stack/demo/demo-shop.json"))["shop_id"])')"

statuses="$(mktemp)"
set +e
BRIDGE_STATUS_LOG="$statuses" \
PYTHONPATH="infra/scripts${PYTHONPATH:+:$PYTHONPATH}" \
SCHEMATHESIS_HOOKS=schemathesis_hooks \
BRIDGE_WEBHOOK_SECRET="$secret" BRIDGE_SHOP_ID="$shop_id" \
    .venv/bin/schemathesis run shared/contracts/webhook.openapi.yaml \
    --url "http://127.0.0.1:$port" \
    --max-examples "$max_examples" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
    --seed "${SCHEMATHESIS_SEED:-1}" \
    --no-color
status=$?
set -e
echo
echo "Responses by status (400: top-level field named):"
sort "$statuses" | uniq -c | sort -rn
rm -f "$statuses"
exit "$status"
