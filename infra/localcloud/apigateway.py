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
from localcloud.iam_auth import iam_protected, verify

if TYPE_CHECKING:
    from localcloud.cloud import _Function


# What API Gateway answers when the function failed or its answer is not a valid response.
INTERNAL_ERROR: dict[str, Any] = {
    "statusCode": 500,
    "headers": {"Content-Type": "application/json"},
    "body": '{"message":"Internal Server Error"}',
}


def _proxy_answer(resp: Any) -> dict[str, Any]:
    """The function's answer as API Gateway reads it (payload format 2.0): a dict with a
    `statusCode` is the response; any other JSON value without one is a 200 whose body is
    that JSON; a `statusCode` that is not an HTTP status, or an answer that is not JSON, is
    a 500 `{"message":"Internal Server Error"}`."""
    if isinstance(resp, dict) and "statusCode" in resp:
        code = resp["statusCode"]
        valid = isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599
        body = resp.get("body", "")
        if not valid or not isinstance(body, (str, type(None))):
            raise ValueError(f"not a valid Lambda proxy response (statusCode {code!r})")
        return resp
    try:
        body = json.dumps(resp)
    except (TypeError, ValueError):
        raise ValueError("the function's answer is not JSON") from None
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body}


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
            return 404, self.cors_for(headers.get("origin")), {"message": "Not Found"}
        fn, route_key, path_params = route
        iam = None
        if iam_protected(self, fn, route_key):  # the admin API: SigV4 with local credentials
            host = headers.get("host", "localhost")
            iam = verify(method.upper(), f"http://{host}{path}", headers, raw)
            if iam is None:
                return 403, {}, {"message": "Forbidden"}
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
        if iam is not None:
            event["requestContext"]["authorizer"] = {"iam": iam}  # type: ignore[index]
        if "cookie" in headers:  # payload 2.0 moves the Cookie header to `cookies`
            cookies = headers.pop("cookie").split(";")
            event["cookies"] = [c.strip() for c in cookies if c.strip()]
        if "?" in path:
            from urllib.parse import parse_qsl

            event["queryStringParameters"] = dict(parse_qsl(path.split("?", 1)[1]))
        try:
            resp = _proxy_answer(self.invoke(fn.logical_id, event))
        except Exception as exc:  # noqa: BLE001 - API Gateway answers a failed function with 500
            # as API Gateway does (payload 2.0): the body says nothing of the error, the
            # function's log (here: the cloud's errors, which the test audit reports) does
            self.errors.append(f"{fn.logical_id}: {type(exc).__name__}: {exc}")
            resp = INTERNAL_ERROR
        self.run_until_idle()
        payload = resp.get("body", "")
        if resp.get("isBase64Encoded"):
            payload = base64.b64decode(payload).decode()
        try:
            parsed: Any = json.loads(payload) if payload else None
        except json.JSONDecodeError:
            parsed = payload
        status = int(resp["statusCode"])
        self._note_rejections(route_key, status, parsed)
        # With a CorsConfiguration, API Gateway sets the CORS headers of every answer itself.
        out = {**dict(resp.get("headers") or {}), **self.cors_for(headers.get("origin"))}
        return status, out, parsed

    def cors_for(self: LocalCloud, origin: str | None) -> dict[str, str]:
        """The CORS headers API Gateway adds to an answer, from the template's HttpApi
        CorsConfiguration: the origin echoed when allowed (or `*`), nothing without one."""
        cors = self.cors_configuration()
        allowed = [str(o) for o in cors.get("AllowOrigins", [])]
        if not origin or not allowed:
            return {}
        if "*" in allowed:
            return {"Access-Control-Allow-Origin": "*"}
        return {"Access-Control-Allow-Origin": origin} if origin in allowed else {}

    def cors_configuration(self: LocalCloud) -> dict[str, Any]:
        api: dict[str, Any] = next(
            (
                r
                for r in self.template["Resources"].values()
                if r["Type"] == "AWS::Serverless::HttpApi"
            ),
            {},
        )
        resolved: dict[str, Any] = self.resolver.resolve(
            api.get("Properties", {}).get("CorsConfiguration", {})
        )
        return resolved

    def _note_rejections(self: LocalCloud, route: str, status: int, answer: Any) -> None:
        """Keep what the API refused, with the reasons, for `/_local/rejections` (in AWS:
        the ingest function's "event rejected" / "request refused" log records)."""
        at = self.clock.now().isoformat()
        if not isinstance(answer, dict) or status < 400 and not answer.get("results"):
            return
        events = [r for r in answer.get("results") or [] if r.get("status") == "rejected"]
        for r in events:
            self.rejections.append(
                {
                    "at": at,
                    "route": route,
                    "status": status,
                    "index": r.get("index"),
                    "messageId": r.get("messageId"),
                    "errors": r.get("errors", []),
                }
            )
        if status >= 400 and not events:
            self.rejections.append(
                {
                    "at": at,
                    "route": route,
                    "status": status,
                    "code": answer.get("code"),
                    "message": answer.get("message"),
                    "errors": answer.get("errors", []),
                }
            )

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
