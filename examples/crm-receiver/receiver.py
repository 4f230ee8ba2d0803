"""An example CRM endpoint for Nurture's lead webhooks (standard library only).

    NURTURE_CRM_SECRET=... python receiver.py --port 8080 --url https://crm.example.com/hooks/nurture

It checks what a real receiver must check, in this order:
  1. the signature: X-Nurture-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
     "<t>\\n<METHOD>\\n<URL>\\n<body>")>, compared in constant time, over the URL *as Nurture
     called it* (pass --url when a proxy or load balancer sits in front);
  2. the timestamp: at most five minutes away (a captured request cannot be replayed later);
  3. the Idempotency-Key: a delivery already applied is acknowledged and not applied again
     (Nurture retries until it sees a 2xx, with the same key and the same bytes).
Then it "applies" the event (here: appends it to a JSON Lines file) and answers 200.

`post_back()` shows the other direction: telling Nurture that a deal was won or lost, that
the owner changed, or that a salesperson called (POST <nurture>/crm/events, signed alike).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOLERANCE_SECONDS = 300
MAX_BODY = 256 * 1024


def signature(secret: str, timestamp: int, method: str, url: str, body: bytes) -> str:
    message = f"{timestamp}\n{method.upper()}\n{url}\n".encode() + body
    return f"t={timestamp},v1={hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()}"


def verify(secret: str, header: str, method: str, url: str, body: bytes, now: float) -> str | None:
    """None if the request is authentic and fresh, else why not."""
    fields = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return "missing timestamp"
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        return "stale timestamp"
    # Compare the v1 entry only: a later scheme comes as a further entry (",v2=...").
    expected = signature(secret, timestamp, method, url, body).split(",v1=", 1)[1]
    if not hmac.compare_digest(expected.encode(), fields.get("v1", "").encode()):
        return "bad signature"
    return None


class Receiver:
    """The receiving side's state: the secret, the URL it is reached at, what it applied."""

    def __init__(self, secret: str, url: str, store: Path | None = None, clock: Any = time.time):
        self.secret = secret
        self.url = url
        self.store = store
        self.clock = clock
        self.applied: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.refused: list[str] = []
        self.fail_next = 0  # answer 503 to this many deliveries (to show retries)
        self.lock = threading.Lock()

    def handle(self, method: str, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
        why = verify(
            self.secret,
            headers.get("X-Nurture-Signature", ""),
            method,
            self.url,
            body,
            self.clock(),
        )
        if why:
            self.refused.append(why)
            return 401, {"error": why}
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": "try again later"}
            if key in self.seen:
                return 200, {"status": "duplicate"}
            event = json.loads(body)
            self.seen.add(key)
            self.applied.append(event)
            if self.store is not None:
                with self.store.open("a") as out:
                    out.write(json.dumps(event) + "\n")
        return 200, {"status": "applied"}

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._answer(413, {"error": "too large"})
                    return
                status, answer = receiver.handle("POST", self.headers, self.rfile.read(length))
                self._answer(status, answer)

            def _answer(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def post_back(
    nurture_url: str, secret: str, event: dict[str, Any], now: float | None = None
) -> int:
    """Send one event to Nurture, e.g. {"id": "deal-42-won", "type": "deal.won",
    "contact": {"email": "ada@example.com"}, "deal": {"id": "42", "amount": 12000,
    "currency": "EUR"}}. Returns the HTTP status (200 applied, 4xx refused and why)."""
    url = nurture_url.rstrip("/") + "/crm/events"
    body = json.dumps(event).encode()
    stamp = int(now if now is not None else time.time())
    request = urllib.request.Request(  # noqa: S310 - your Nurture API's https:// URL
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Nurture-Signature": signature(secret, stamp, "POST", url, body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def main() -> None:
    parser = argparse.ArgumentParser(description="Example CRM receiver for Nurture lead webhooks")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--url", help="the URL Nurture posts to (default http://127.0.0.1:<port>/)")
    parser.add_argument("--store", type=Path, default=Path("leads.jsonl"))
    args = parser.parse_args()
    secret = os.environ.get("NURTURE_CRM_SECRET", "")
    if len(secret) < 16:
        raise SystemExit("set NURTURE_CRM_SECRET (the `crm` entry of Nurture's webhook-secrets)")
    url = args.url or f"http://127.0.0.1:{args.port}/"
    server = Receiver(secret, url, args.store).serve("127.0.0.1", args.port)
    print(f"listening on {url}, appending to {args.store}; Ctrl-C to stop")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
