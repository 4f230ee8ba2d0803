"""Serve the example site, with Segment's analytics.js self-hosted from the npm package.

    npm ci --prefix examples/site
    python examples/site/serve.py --api http://localhost:3000 --port 8000

A real website hosts the same three things next to its pages (see README.md, "Tracking a
website"): analytics.js itself (`/analytics.js/v1/<write key>/analytics.min.js`), the chunks
it loads on demand (`/analytics-next/bundles/...`), and the source settings it fetches at
start (`/v1/projects/<write key>/settings`). The pages' snippet points events at
`localhost:3000`, where `make demo` serves Nurture; `--api` serves them pointed elsewhere.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

SITE = Path(__file__).resolve().parent
BUNDLES = SITE / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
DEMO_API = "localhost:3000"
_SCRIPT = re.compile(r"^/analytics\.js/v1/[^/]+/analytics(\.min)?\.js$")
_CHUNK = re.compile(r"^/analytics-next/bundles/([\w.-]+\.js)$")
_SETTINGS = re.compile(r"^/v1/projects/([^/]+)/settings$")


def source_settings(write_key: str, api: str) -> dict[str, Any]:
    """What Segment's CDN answers for a source, reduced to the Segment.io destination: every
    event goes to Nurture and nowhere else."""
    parts = urlsplit(api)
    return {
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": f"{parts.netloc}/v1",
                "protocol": parts.scheme or "https",
            }
        },
        "plan": {"track": {"__default": {"enabled": True}}},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
    }


class SiteServer:
    """The example site on `host:port` (0: any free port), its events sent to `api`."""

    def __init__(self, api: str, host: str = "127.0.0.1", port: int = 0):
        if not (BUNDLES / "standalone.js").exists():
            raise FileNotFoundError(
                f"{BUNDLES / 'standalone.js'} is missing: run `npm ci --prefix examples/site`"
            )
        self.api = api.rstrip("/")
        self.httpd = ThreadingHTTPServer((host, port), self._handler())
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> SiteServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _handler(self) -> type[SimpleHTTPRequestHandler]:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any):
                super().__init__(*args, directory=str(SITE), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet in tests

            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                path = urlsplit(self.path).path
                if _SCRIPT.match(path):
                    return self._send(BUNDLES / "standalone.js", "text/javascript")
                if chunk := _CHUNK.match(path):
                    return self._send(BUNDLES / chunk.group(1), "text/javascript")
                if settings := _SETTINGS.match(path):
                    body = json.dumps(source_settings(settings.group(1), server.api)).encode()
                    return self._write(200, "application/json", body)
                if path.startswith("/node_modules/") or path.endswith(".py"):
                    return self._write(404, "text/plain", b"not found")
                if path == "/" or path.endswith(".html"):
                    page = SITE / ("index.html" if path == "/" else path.lstrip("/"))
                    if page.resolve().parent != SITE or not page.exists():
                        return self._write(404, "text/plain", b"not found")
                    html = (
                        page.read_text()
                        .replace(f"http://{DEMO_API}", server.api)
                        .replace(DEMO_API, urlsplit(server.api).netloc)
                    )
                    return self._write(200, "text/html; charset=utf-8", html.encode())
                return super().do_GET()

            def _send(self, file: Path, content_type: str) -> None:
                if not file.is_file():
                    return self._write(404, "text/plain", b"not found")
                self._write(200, content_type, file.read_bytes())

            def _write(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default=f"http://{DEMO_API}", help="Nurture's API URL")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    site = SiteServer(args.api, port=args.port)
    print(f"example site on {site.url}, events to {site.api} (Ctrl-C stops)")
    try:
        site.httpd.serve_forever()
    except KeyboardInterrupt:
        site.stop()


if __name__ == "__main__":
    main()
