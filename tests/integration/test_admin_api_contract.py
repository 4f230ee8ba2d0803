"""The admin API's contract: its OpenAPI document is what the code generates (committed,
served, valid OpenAPI 3.1 by openapi-spec-validator), and every admin route - each one the
template gives the AdminApi, whichever function serves it - refuses a request without the
right SigV4 signature, storing nothing."""

from __future__ import annotations

import base64
import json

import pytest
from admin_helpers import admin, admin_routes
from fuzz_support import StoreWatch
from openapi_spec_validator import validate

from localcloud import LocalCloud
from localcloud.commands.openapi import admin_document
from localcloud.iam_auth import sign
from nurture.admin import openapi, routes

pytestmark = pytest.mark.integration

ROUTES = admin_routes()
# a value for each path parameter, so every route is reached with a plausible URL
SAMPLE = {
    "contact_id": "c0ffee",
    "program_id": "welcome",
    "task_id": "t1",
    "assignee": "sam@example.com",
    "report": "funnel",
    "import_id": "0123abcd",
}


def _path(template_path: str) -> str:
    path = template_path
    for name, value in SAMPLE.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, path
    return path


def test_the_committed_document_is_what_the_code_generates(cloud: LocalCloud) -> None:
    generated = openapi.render(admin_document(cloud))
    assert routes.DOCUMENT.read_text(encoding="utf-8") == generated, (
        "layers/nurture/nurture/admin/openapi.json is out of date: run `nurture openapi --write`"
    )


def test_the_document_is_valid_openapi_and_covers_every_admin_function_route() -> None:
    doc = json.loads(routes.served())
    validate(doc)  # openapi-spec-validator: raises on any violation of OpenAPI 3.1
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    served = {(m, p) for m, p, fn in ROUTES if fn == "AdminFunction"}
    assert documented == served
    assert len(served) >= 15
    for item in doc["paths"].values():
        for operation in item.values():
            assert operation["security"] == [{"sigv4": []}]
            assert "403" in operation["responses"]
    assert not any("email" in p or "phone" in p for p in doc["paths"])  # ids only in URLs


def test_the_signed_api_serves_its_document(cloud: LocalCloud) -> None:
    status, body = admin(cloud, "GET", "/admin/openapi.json")
    assert status == 200
    assert body == json.loads(routes.served())


def _wrong_credentials(method: str, url: str, body: bytes) -> dict[str, dict[str, str]]:
    signed = sign(method, url, body)
    tampered = dict(signed)  # a valid signature of another request (the path changed)
    other = sign(method, url + "x", body)
    tampered["authorization"] = other["authorization"]
    return {
        "none": {},
        "public write key": {
            "authorization": "Basic " + base64.b64encode(b"local-write-key:").decode()
        },
        "secret write key": {
            "authorization": "Basic " + base64.b64encode(b"local-secret-key:").decode()
        },
        "wrong secret": sign(method, url, body, secret="not-the-secret"),
        "unknown access key": sign(method, url, body, access_key="AKIAEXAMPLE"),
        "signature of another request": tampered,
        "bearer token": {"authorization": "Bearer local"},
    }


@pytest.mark.parametrize(
    ("method", "path", "function"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
def test_every_admin_route_refuses_missing_or_wrong_credentials(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch, method: str, path: str, function: str
) -> None:
    url_path = _path(path)
    body = b'{"email": "ada@example.com", "reason": "test"}' if method == "POST" else b""
    watch = StoreWatch(cloud).install(monkeypatch)
    invoked: list[str] = []
    original = cloud.invoke

    def counting(logical_id: str, event: object) -> object:
        invoked.append(logical_id)
        return original(logical_id, event)

    monkeypatch.setattr(cloud, "invoke", counting)
    for label, headers in _wrong_credentials(method, f"http://localhost{url_path}", body).items():
        with watch.request() as stored:
            status, _, answer = cloud.http(
                method,
                url_path,
                body or None,
                headers={**headers, "content-type": "application/json"},
                write_key=None,
            )
            writes, changed = stored()
        assert status == 403, f"{label}: {status} {answer}"
        assert answer == {"message": "Forbidden"}, label
        assert not writes and not changed, f"{label}: stored {writes}"
    assert invoked == []  # no function ran for a refused request
    # and the same request, signed, gets past the authoriser
    status, answer = admin(cloud, method, url_path, json.loads(body) if body else None)
    assert status != 403, answer
