# mypy: disable-error-code="misc"
# (the mixins annotate self as the LocalCloud they are part of, so their bodies are checked)
"""The template's HTTP API, invoked as API Gateway (payload format 2.0) would."""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud

from localcloud.constants import ACCOUNT

if TYPE_CHECKING:
    from localcloud.cloud import _Function


class HttpApiMixin:
    # --- API Gateway ------------------------------------------------------------------
    def http(
        self: LocalCloud,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        write_key: str | None = "local-write-key",
    ) -> tuple[int, dict[str, str], Any]:
        """Send a request to the template's HTTP API, as API Gateway would, and run what follows."""
        headers = {k.lower(): v for k, v in (headers or {}).items()}
        if isinstance(body, dict):
            body = json.dumps(body)
            headers.setdefault("content-type", "application/json")
        raw = body.encode() if isinstance(body, str) else (body or b"")
        if write_key is not None and "authorization" not in headers:
            headers["authorization"] = (
                "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
            )
        route = self._route(method, path)
        if route is None:
            return 404, {}, {"message": "Not Found"}
        fn, route_key, path_params = route
        event = {
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path.split("?")[0],
            "rawQueryString": path.split("?", 1)[1] if "?" in path else "",
            "headers": headers,
            "body": base64.b64encode(raw).decode(),
            "isBase64Encoded": True,
            "pathParameters": path_params,
            "requestContext": {
                "http": {
                    "method": method,
                    "path": path.split("?")[0],
                    "sourceIp": "127.0.0.1",
                    "protocol": "HTTP/1.1",
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route_key,
                "stage": "$default",
                "accountId": ACCOUNT,
                "apiId": "local",
                "domainName": "localhost",
                "timeEpoch": int(self.clock.now().timestamp() * 1000),
            },
        }
        if "?" in path:
            from urllib.parse import parse_qsl

            event["queryStringParameters"] = dict(parse_qsl(path.split("?", 1)[1]))
        resp = self.invoke(fn.logical_id, event)
        self.run_until_idle()
        payload = resp.get("body", "")
        if resp.get("isBase64Encoded"):
            payload = base64.b64decode(payload).decode()
        try:
            parsed: Any = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            parsed = payload
        return int(resp["statusCode"]), dict(resp.get("headers") or {}), parsed

    def _route(
        self: LocalCloud, method: str, path: str
    ) -> tuple[_Function, str, dict[str, str]] | None:
        clean = path.split("?")[0]
        for fn in self.functions.values():
            for ev in fn.events.values():
                if ev["Type"] != "HttpApi":
                    continue
                p = ev["Properties"]
                if p["Method"].upper() not in (method.upper(), "ANY"):
                    continue
                names = re.findall(r"\{(\w+)\}", p["Path"])
                pattern = "^" + re.sub(r"\\\{\w+\\\}", "([^/]+)", re.escape(p["Path"])) + "$"
                match = re.match(pattern, clean)
                if match:
                    return (
                        fn,
                        f"{p['Method'].upper()} {p['Path']}",
                        dict(zip(names, match.groups(), strict=True)),
                    )
        return None
