"""The public API's OpenAPI document: generated from the code, committed, served, and valid.

The committed copy (layers/nurture/nurture/api/openapi.json) must be what the functions'
routes produce now (`nurture openapi --write` regenerates it); GET /openapi.json serves it;
every route the template gives the public API is in it; and OpenAPI's own validator
(openapi-spec-validator, not ours) accepts it."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from localcloud import LocalCloud
from localcloud.commands.openapi import document, public_routes
from nurture.api import openapi

pytestmark = pytest.mark.integration


def test_the_committed_document_is_what_the_code_generates(cloud: LocalCloud) -> None:
    generated = openapi.render(document(cloud))
    committed = openapi.DOCUMENT.read_text(encoding="utf-8")
    assert committed == generated, (
        "layers/nurture/nurture/api/openapi.json is out of date: run `nurture openapi --write`"
    )


def test_every_public_route_is_documented_and_nothing_else(cloud: LocalCloud) -> None:
    doc = json.loads(openapi.served())
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    routed = {(m, p.replace("{formId}", "{form_id}")) for m, p in public_routes(cloud)}
    assert documented == routed
    # the admin API (IAM-signed) is not public, and not in it
    assert not any(p.startswith("/admin/") for p in doc["paths"])
    assert len(routed) >= 25  # 14 tracking, the form, 4 links, 5 sales/CRM, the document


def test_the_api_serves_its_document(cloud: LocalCloud) -> None:
    status, headers, body = cloud.http("GET", "/openapi.json", write_key=None)
    assert status == 200
    assert body == json.loads(openapi.DOCUMENT.read_text(encoding="utf-8"))
    assert body["info"]["title"] == "Nurture public API"


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = json.loads(openapi.served())
    assert doc["openapi"] == "3.1.0"
    validate(doc)  # raises on any violation of the OpenAPI 3.1 specification
    # Segment bodies are described as they come: JSON also as text/plain (analytics.js)
    body = doc["paths"]["/v1/t"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "text/plain"}
    assert doc["paths"]["/v1/batch"]["post"]["security"] == [{"writeKey": []}]
    track = doc["components"]["schemas"]["TrackCall"]
    assert "type" not in track["required"] and "event" in track["required"]
