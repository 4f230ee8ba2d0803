"""The signature on every webhook Nurture sends (program `webhook` steps, the CRM push) and
on what a CRM posts back.

    X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>\\n<METHOD>\\n<URL>\\n<body>")>

`v1` covers the method, the full URL as called (scheme, host, port, path and query) and
the body (empty for GET and DELETE), so a captured request cannot be replayed with another
method or against another endpoint; receivers also refuse timestamps more than five minutes
away. The scheme is versioned: a later one is sent as another entry (`,v2=...`) beside
`v1`, so a receiver checks the newest entry it knows and ignores the others.
`examples/webhook-receiver/verify.py` is a standalone receiver-side check.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Nurture-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: int, method: str, url: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{url}\n".encode() + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, method: str, url: str, body: bytes, now: int
) -> str | None:
    """None when the header is a valid, fresh v1 signature of this request; else why not."""
    parts = dict(p.strip().split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return "the signature has no timestamp"
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return "the signature's timestamp is more than five minutes away"
    expected = signature(secret, timestamp, method, url, body).split(",v1=", 1)[1]
    if not hmac.compare_digest(expected.encode(), parts.get("v1", "").encode()):
        return "the signature does not match"
    return None
