"""Serve the local cloud's HTTP API on localhost, as API Gateway would, plus a few
/_local/ endpoints to look into the sandbox (outbox, timeline) and to move virtual time."""

from __future__ import annotations

import gc
import json
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from localcloud import console
from localcloud.cloud import LocalCloud

MAX_BODY = 1024 * 1024  # API Gateway's own cap is 10 MB; the functions enforce Segment's limits
# Signed links carry a token in the path that grants access to a contact's preferences:
# the request log shows the route, not the token.
_TOKEN_ROUTE = re.compile(r"^/(u|c)/[^/?]+")


def request_line(method: str, raw_path: str, status: int, wall_ms: float, virtual: str) -> str:
    """One request log line: method, path (no query string, no link token), status, the
    wall-clock time the request took, and the virtual time it ended at."""
    path = _TOKEN_ROUTE.sub(r"/\1/<token>", urlsplit(raw_path).path)
    return f"{method} {path} {status} {wall_ms:.1f} ms wall (virtual {virtual})"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LocalApi:
    def __init__(
        self,
        cloud: LocalCloud,
        host: str = "127.0.0.1",
        port: int = 3000,
        log: Callable[[str], None] = _to_stderr,
    ):
        self.cloud = cloud
        self.log = log
        self._lock = threading.Lock()  # one request at a time drives the cloud
        self.httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="local-api", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LocalApi:
        # What the process holds once the cloud is up (moto's models, botocore's, the
        # template, the functions' modules: ~440,000 objects) lives as long as the server:
        # frozen, the garbage collector's full passes stop walking it (each took ~0.3 s,
        # every ~2,000 events of bench/local_http.py). Unfrozen again on stop.
        gc.freeze()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        gc.unfreeze()

    def _cors_headers(self, origin: str | None) -> dict[str, str]:
        """A preflight's answer, as API Gateway gives it from the template's CorsConfiguration."""
        cors = self.cloud.cors_configuration()
        return {
            **self.cloud.cors_for(origin),
            "Access-Control-Allow-Methods": ",".join(cors.get("AllowMethods", ["POST"])),
            "Access-Control-Allow-Headers": ",".join(cors.get("AllowHeaders", [])),
            "Access-Control-Max-Age": str(cors.get("MaxAge", 600)),
        }

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if console.is_console(raw_path):  # the web console's static files (no cloud needed)
            return console.serve(method, raw_path)
        with self._lock:
            if method == "OPTIONS":
                origin = next((v for k, v in headers.items() if k.lower() == "origin"), None)
                return 204, self._cors_headers(origin), b""
            if raw_path.startswith("/_local/"):
                status, payload = self._local(method, raw_path, body)
                return (
                    status,
                    {"Content-Type": "application/json"},
                    json.dumps(payload, indent=2, default=str).encode(),
                )
            status, out_headers, parsed = self.cloud.http(
                method, raw_path, body, headers, write_key=None
            )
            if isinstance(parsed, (dict, list)):
                data = json.dumps(parsed).encode()
            else:
                data = (parsed or "").encode()
            return status, out_headers, data

    def _local(self, method: str, raw_path: str, body: bytes = b"") -> tuple[int, Any]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/")
        cloud = self.cloud
        if method == "GET" and path == "/_local/outbox":
            return 200, [
                {
                    "message_id": e.message_id,
                    "to": e.to,
                    "subject": e.subject,
                    "sent_at": e.sent_at.isoformat(),
                    "links": e.links(),
                    "text": e.text,  # e.g. the double opt-in link (not a tracked link)
                }
                for e in cloud.outbox
            ]
        if method == "GET" and path == "/_local/rejections":
            return 200, cloud.rejections  # what the HTTP API refused, with the reasons
        if method == "GET" and path.startswith("/_local/explain/"):  # `nurture explain`
            from localcloud.commands.explain import explain_local

            return explain_local(cloud, unquote(path.removeprefix("/_local/explain/")), query)
        if method == "POST" and path == "/_local/import":  # `nurture import`, a chunk of rows
            from localcloud.commands.import_contacts import import_chunk_local

            return import_chunk_local(cloud, body)
        if method == "GET" and path == "/_local/timeline":
            return 200, [
                {"at": t.at.isoformat(), "who": t.who, "what": t.what} for t in cloud.timeline
            ]
        if method == "POST" and path == "/_local/clock/advance":
            delta = timedelta(
                days=float(query.get("days", 0)),
                hours=float(query.get("hours", 0)),
                minutes=float(query.get("minutes", 0)),
            )
            cloud.advance(delta)
            return 200, {"now": cloud.clock.now().isoformat()}
        if method == "POST" and path.startswith("/_local/outbox/"):
            _, _, _, message_id, action = path.split("/", 4)
            email = next((e for e in cloud.outbox if e.message_id == message_id), None)
            if email is None:
                return 404, {"message": f"no captured email {message_id}"}
            if action == "click":
                cloud.click_email(email, query.get("link"))
            elif action == "open":
                cloud.open_email(email)
            else:
                return 404, {"message": "use /click or /open"}
            return 200, {"ok": True}
        return 404, {"message": "unknown local endpoint"}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "NurtureLocal/1"

            def _serve(self) -> None:
                started = time.perf_counter()
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self.send_error(413, "body too large")
                    self._log_request(413, started)
                    return
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                try:
                    status, out_headers, data = api.handle(self.command, self.path, headers, body)
                except Exception as exc:  # noqa: BLE001 - a local server answers 500 like API Gateway would
                    status, out_headers = 500, {"Content-Type": "application/json"}
                    api.cloud.errors.append(f"local server: {type(exc).__name__}: {exc}")
                    data = b'{"message":"Internal Server Error"}'  # as API Gateway says it
                # Logged before answering: once the client has its answer it may send the next
                # request, which may move the virtual clock before a later log line reads it.
                self._log_request(status, started)
                self.send_response(status)
                for key, value in out_headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _log_request(self, status: int, started: float) -> None:
                wall_ms = (time.perf_counter() - started) * 1000
                virtual = api.cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
                api.log(request_line(self.command, self.path, status, wall_ms, virtual))

            do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # every request is logged once, by _log_request

        return Handler
