"""Calling the admin API as an operator's tool does: SigV4-signed with the local credentials
(`localcloud.iam_auth.sign`, botocore's signer); and the admin routes as the template
declares them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcloud import LocalCloud
from localcloud.iam_auth import sign
from localcloud.template import load_template

ADMIN_API = "AdminApi"


def admin(
    cloud: LocalCloud, method: str, path: str, body: Any = None, **sign_with: str
) -> tuple[int, Any]:
    """(status, JSON answer) of a signed admin request; `sign_with` overrides the
    credentials (secret=..., access_key=...)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = sign(method, f"http://localhost{path}", data, **sign_with)
    if body is not None:
        headers["content-type"] = "application/json"
    status, _, answer = cloud.http(method, path, data or None, headers=headers, write_key=None)
    return status, answer


def admin_routes() -> list[tuple[str, str, str]]:
    """(METHOD, path, function) of every route the template gives the AdminApi."""
    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    found = []
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for event in res["Properties"].get("Events", {}).values():
            p = event.get("Properties", {})
            if event["Type"] == "HttpApi" and p.get("ApiId") == {"Ref": ADMIN_API}:
                found.append((p["Method"].upper(), p["Path"], logical))
    return sorted(found)
