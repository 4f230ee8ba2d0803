"""The web console (console/, built by `make` into console/dist/) served by the local cloud at
/console/, on the same origin as the admin API it calls: no CORS, and the browser signs its
requests with the local credentials (local/local), which the local IAM authoriser checks.

In AWS the same files are in the ConsoleBucket behind CloudFront, whose response headers
policy sends the security headers below; here they are sent by this module."""

from __future__ import annotations

import json
import mimetypes
import uuid
from pathlib import Path

from localcloud.constants import ACCOUNT, REGION

DIST = Path(__file__).resolve().parents[2] / "console" / "dist"
PREFIX = "/console"

# What the template's ConsoleHeaders policy sends (connect-src: only the origin itself here).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
}
TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".json": "application/json",
}


def config() -> dict[str, str]:
    """The console's config.json on the local cloud: sign in with the local credentials and
    call the API on the console's own origin."""
    return {"mode": "local", "region": REGION, "apiUrl": ""}


def is_console(raw_path: str) -> bool:
    path = raw_path.split("?", 1)[0]
    return path == PREFIX or path.startswith(PREFIX + "/")


def serve(method: str, raw_path: str, dist: Path = DIST) -> tuple[int, dict[str, str], bytes]:
    """A file of the built console, with the headers CloudFront would add."""
    path = raw_path.split("?", 1)[0].split("#", 1)[0]
    if method not in ("GET", "HEAD"):
        return 405, {"Allow": "GET, HEAD", **SECURITY_HEADERS}, b""
    if path == PREFIX:
        return 301, {"Location": PREFIX + "/"}, b""
    name = path.removeprefix(PREFIX + "/") or "index.html"
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    if name == "config.json":
        return 200, {**headers, "Content-Type": "application/json"}, json.dumps(config()).encode()
    if not (dist / "index.html").is_file():
        return (
            503,
            {**headers, "Content-Type": "text/plain; charset=utf-8"},
            b"The console is not built: run `make demo` (or `npm ci --prefix console && "
            b"npm run --prefix console build`).\n",
        )
    file = (dist / name).resolve()
    if not file.is_relative_to(dist.resolve()) or not file.is_file() or name.startswith("."):
        return 404, {**headers, "Content-Type": "text/plain; charset=utf-8"}, b"Not Found\n"
    kind = (
        TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    )
    if kind.startswith("text/") or kind == "application/json":
        kind += "; charset=utf-8"
    return 200, {**headers, "Content-Type": kind}, file.read_bytes()


def resource_names(logical: str, kind: str, name: str) -> tuple[str, dict[tuple[str, str], str]]:
    """Names and attributes of the console's CloudFront and Cognito resources, so the rest of
    the template can refer to them locally (nothing of them runs here)."""
    ref = name
    if kind == "AWS::Cognito::UserPool":
        ref = f"{REGION}_{name[:9]}"
    elif kind == "AWS::Cognito::IdentityPool":
        ref = f"{REGION}:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"
    attrs = {
        (logical, "Id"): ref,
        (logical, "DomainName"): f"{name.lower()}.cloudfront.net",
        (logical, "ProviderName"): f"cognito-idp.{REGION}.amazonaws.com/{ref}",
        (logical, "Arn"): f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{ref}",
    }
    return ref, attrs
