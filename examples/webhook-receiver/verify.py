"""Checking a Nurture webhook on the receiving side (standard library only).

Every webhook Nurture sends (a program's `webhook` step, the CRM push) carries

    X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>\\n<METHOD>\\n<URL>\\n<body>")>

where URL is the step's `url` exactly as written in the program (scheme, host, port, path
and query: behind a proxy, use the public URL, not the one your server sees) and body is
the raw request body (empty for GET and DELETE). Check, in this order:

  1. the signature, in constant time: `v1` over this method, this URL and these bytes;
  2. the timestamp: at most five minutes away, so a captured request cannot be replayed;
  3. X-Nurture-Delivery: the same on every retry of one step, so store the ones you have
     applied and acknowledge a repeat without applying it again.

Later signature schemes come as further entries (`,v2=...`): this code checks `v1` and
ignores entries it does not know, so it keeps working while both are sent.

    NURTURE_WEBHOOK_SECRET=... python verify.py https://erp.example.com/api/discounts POST body.json '<header>'
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sys
import time

TOLERANCE_SECONDS = 300


def expected_v1(secret: str, timestamp: int, method: str, url: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{url}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, header: str, method: str, url: str, body: bytes, now: float | None = None
) -> str | None:
    """None if the request is authentic and fresh, else why not."""
    fields: dict[str, str] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, value)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return "missing timestamp"
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        return "stale timestamp"
    given = fields.get("v1", "")
    if not hmac.compare_digest(expected_v1(secret, timestamp, method, url, body), given):
        return "bad signature"
    return None


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    url, method, path, header = sys.argv[1:]
    with open(path, "rb") as file:
        problem = verify(os.environ["NURTURE_WEBHOOK_SECRET"], header, method, url, file.read())
    print(problem or "valid")
    sys.exit(1 if problem else 0)
