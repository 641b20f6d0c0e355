#!/usr/bin/env bash
# Sends a JSON file as a signed webhook (Standard Webhooks scheme), the way
# a shop would:
#   infra/scripts/send-webhook.sh URL SECRET FILE
#   URL     e.g. http://127.0.0.1:3000/webhooks/demo-shop
#   SECRET  the shop's webhook secret, whsec_<base64>
#   FILE    the event body (order.created / order.paid / order.shipped)
# Needs bash, openssl, od, curl. Prints the HTTP status and the answer.
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 URL SECRET FILE" >&2
  exit 64
fi
url=$1 secret=$2 file=$3
[ -r "$file" ] || { echo "cannot read $file" >&2; exit 66; }

body=$(cat "$file")                       # the exact bytes we sign and send
id="msg_$(date +%s)_$RANDOM$RANDOM"
timestamp=$(date +%s)
# The HMAC key is the base64-decoded part after "whsec_".
key_hex=$(printf '%s' "${secret#whsec_}" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')
signature=$(printf '%s.%s.%s' "$id" "$timestamp" "$body" \
  | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary \
  | openssl base64 -A)

curl -sS -w '\nHTTP %{http_code}\n' -X POST "$url" \
  -H 'content-type: application/json' \
  -H "webhook-id: $id" \
  -H "webhook-timestamp: $timestamp" \
  -H "webhook-signature: v1,$signature" \
  --data-binary "$body"
