"""Schemathesis hook: signs every generated request with the demo shop's
secret (Standard Webhooks, via the standardwebhooks package) so bodies get
past the signature check and reach the parser. A share of the cases keeps
the generated (unsigned / random) headers and shop id, to exercise 401/404.

Loaded by infra/scripts/schemathesis.sh through SCHEMATHESIS_HOOKS.
"""

import json
import os
import random
import time
import uuid
from datetime import datetime, timezone

import schemathesis
from standardwebhooks.webhooks import Webhook

SHOP_ID = os.environ.get("BRIDGE_SHOP_ID", "demo-shop")
SECRET = os.environ["BRIDGE_WEBHOOK_SECRET"]
SIGNED_SHARE = float(os.environ.get("BRIDGE_SIGNED_SHARE", "0.85"))
_webhook = Webhook(SECRET)


def _wire_bytes(body):
    """The bytes `requests` sends for this body (json= uses json.dumps)."""
    if body is None or type(body).__name__ == "NotSet":
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, allow_nan=False).encode("utf-8")


@schemathesis.hook
def before_call(context, case, kwargs):
    if random.random() >= SIGNED_SHARE:
        return
    case.path_parameters = {**(case.path_parameters or {}), "shop_id": SHOP_ID}
    try:
        payload = _wire_bytes(case.body)
    except ValueError:
        return  # NaN/Infinity: requests refuses to send it anyway
    message_id = "msg_" + uuid.uuid4().hex
    now = datetime.now(tz=timezone.utc)
    signature = _webhook.sign(message_id, now, payload.decode("utf-8", "replace"))
    headers = dict(case.headers or {})
    headers["webhook-id"] = message_id
    headers["webhook-timestamp"] = str(int(time.time()))
    headers["webhook-signature"] = signature
    case.headers = headers


STATUS_LOG = os.environ.get("BRIDGE_STATUS_LOG")


@schemathesis.hook
def after_call(context, case, response):
    """Tallies status codes (with the parser's `field` for 400s) so the
    script can show how many requests reached which check."""
    if not STATUS_LOG:
        return
    field = ""
    if response.status_code == 400:
        try:
            field = response.json().get("field", "")
        except Exception:  # noqa: BLE001 - a non-JSON 400 is itself a finding
            field = "<non-JSON body>"
    with open(STATUS_LOG, "a", encoding="utf-8") as out:
        out.write(f"{response.status_code}\t{field.split('.')[0] if field else ''}\n")
