"""The public API, fuzzed from its own OpenAPI document (schemathesis).

Schemathesis reads the committed document (nurture/api/openapi.json, generated from the
code) and generates requests for every operation: positive ones (what the document allows)
and negative ones (what it does not). They go over HTTP to the local API (`make demo`'s
server) on the local cloud. Properties, for every request:

- no answer is 5xx;
- a refused request (4xx) stored nothing: no write reached DynamoDB or S3, the tables' item
  counts and the bucket's object count did not move, no email or text was sent.

Write keys vary (public, secret, unknown, none); form ids are mostly real ones; most CRM
post-backs carry a correct signature, so their bodies reach the parser. Runs are derandomized
(Hypothesis's `derandomize`, no example database): CI sees the same requests every time.
At least 2,000 requests in all, across the three tests."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from fuzz_support import (
    PUBLIC_KEY,
    SECRET_KEY,
    Findings,
    StoreWatch,
    basic,
    served,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from localcloud import LocalCloud
from nurture import clock
from nurture.api import openapi
from nurture.sales.crm import SIGNATURE_HEADER, signature

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_dict(json.loads(openapi.served()))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
FORMS = sorted(p.stem for p in (Path(__file__).parents[2] / "forms").glob("*.yaml"))
CRM_SECRET = "crm-post-back-secret-for-the-fuzz-tests"  # noqa: S105 - a local test secret
# Who sends a write-keyed request: mostly a real key, so bodies get past authentication.
AUTH = st.sampled_from(
    [basic(PUBLIC_KEY)] * 6 + [basic(SECRET_KEY)] * 2 + [basic("no-such-key"), "Bearer x", None]
)


CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
SCALE = float(os.environ.get("NURTURE_FUZZ_SCALE", "1"))  # e.g. 0.1 for a quick local run


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,  # the same requests on every run
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # findings are listed, not shrunk
        suppress_health_check=list(HealthCheck),
    )


Prepare = Callable[[Any, st.DataObject], tuple[dict[str, str], bytes | None]]


def _campaign(
    cloud: LocalCloud,
    monkeypatch: pytest.MonkeyPatch,
    plan: dict[str, tuple[int, int]],
    prepare: Prepare | None = None,
) -> Findings:
    """Send `plan`'s operations (label -> (positive, negative) examples) and check each
    answer. `prepare` may adjust a case; it returns extra headers, and the body's bytes when
    it must send exactly those (a signed body)."""
    watch = StoreWatch(cloud).install(monkeypatch)
    findings = Findings()
    with served(cloud) as api, requests.Session() as session:

        def sender(label: str, mode: GenerationMode, examples: int) -> Callable[[], None]:
            operation = OPERATIONS[label]

            @_settings(examples)
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def send(case: Any, data: st.DataObject) -> None:
                headers, raw = prepare(case, data) if prepare else ({}, None)
                with watch.request() as stored:
                    # a long timeout: a slow answer on a busy machine is not a finding
                    if raw is None:
                        answer = case.call(
                            base_url=api.url, session=session, headers=headers, timeout=300
                        )
                    else:
                        url = f"{api.url}{case.formatted_path}"
                        answer = session.request(
                            case.method, url, data=raw, headers=headers, timeout=300
                        )
                    writes, changed = stored()
                sent = {"path": case.formatted_path, "body": case.body, "headers": headers}
                findings.check(label, answer.status_code, answer.text, writes, changed, sent)
                try:  # the answer is one the document describes: status, media type, schema
                    case.validate_response(answer, checks=CONFORMANCE)
                except BaseExceptionGroup as exc:  # schemathesis's FailureGroup: listed
                    findings.problems.append(f"{label} -> {answer.status_code}: {exc}"[:600])

            return send

        for label, (positive, negative) in plan.items():
            for mode, examples in (
                (GenerationMode.POSITIVE, positive),
                (GenerationMode.NEGATIVE, negative),
            ):
                if examples:
                    sender(label, mode, examples)()
    return findings


def _auth(data: st.DataObject) -> dict[str, str]:
    auth = data.draw(AUTH, label="auth")
    return {"Authorization": auth} if auth else {}


def _report(findings: Findings, minimum: int) -> None:
    print(findings.summary())  # shown with -s; the README quotes the figures
    assert not findings.problems, f"{findings.summary()}; found:\n" + "\n".join(
        findings.problems[:40]
    )
    assert findings.requests >= minimum * SCALE, findings.summary()


def test_tracking_routes_never_fail_and_refusals_store_nothing(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    tracking = [
        label for label in OPERATIONS if label.startswith("POST /v1/") and "forms" not in label
    ]
    assert len(tracking) == 14

    def prepare(case: Any, data: st.DataObject) -> tuple[dict[str, str], None]:
        return _auth(data), None

    findings = _campaign(cloud, monkeypatch, {label: (50, 40) for label in tracking}, prepare)
    _report(findings, minimum=1200)
    statuses = {status for _, status in findings.statuses}
    assert {200, 400, 401} <= statuses  # stored, refused by reason, refused by key


def test_form_route_never_fails_and_refusals_store_nothing(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.sync_content(only=[])  # the repository's forms

    def prepare(case: Any, data: st.DataObject) -> tuple[dict[str, str], None]:
        # a real form most of the time; else whatever schemathesis made up
        if data.draw(st.integers(0, 4), label="real form") > 0:
            case.path_parameters["form_id"] = data.draw(st.sampled_from(FORMS), label="form")
        return _auth(data), None

    findings = _campaign(cloud, monkeypatch, {"POST /v1/forms/{form_id}": (160, 120)}, prepare)
    _report(findings, minimum=250)
    statuses = {status for _, status in findings.statuses}
    assert {400, 401, 404} <= statuses


def test_link_sales_and_crm_routes_never_fail_and_refusals_store_nothing(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.put_secret(
        "webhook-secrets",
        json.dumps({"default": "local-webhook-secret-not-for-production", "crm": CRM_SECRET}),
    )
    base_url = cloud.parameters["PublicBaseUrl"]

    def prepare(case: Any, data: st.DataObject) -> tuple[dict[str, str], bytes | None]:
        if case.operation.label != "POST /crm/events" or not data.draw(st.integers(0, 3)):
            return {}, None
        # signed as the CRM signs: the body reaches the parser and the contact lookup
        body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        now = int(clock.now().timestamp())
        sig = signature(CRM_SECRET, now, "POST", f"{base_url}/crm/events", body)
        return {SIGNATURE_HEADER: sig, "Content-Type": "application/json"}, body

    plan = {
        "GET /u/{token}": (40, 0),
        "POST /u/{token}": (50, 40),
        "GET /c/{token}": (40, 0),
        "POST /c/{token}": (40, 0),
        "GET /sales/{token}": (40, 0),
        "POST /sales/{token}": (50, 40),
        "GET /sales/tasks/{token}": (40, 0),
        "POST /sales/tasks/{token}": (50, 40),
        "POST /crm/events": (120, 80),
        "GET /openapi.json": (1, 0),
    }
    assert set(plan) == {label for label in OPERATIONS if not label.startswith("POST /v1/")}
    findings = _campaign(cloud, monkeypatch, plan, prepare)
    _report(findings, minimum=550)
    statuses = {status for _, status in findings.statuses}
    assert {400, 401, 403} <= statuses
