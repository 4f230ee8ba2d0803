"""The admin API, fuzzed from its own OpenAPI document (schemathesis), as the public API is
(test_api_fuzz.py): positive and negative requests for every operation, SigV4-signed with
the local credentials (most of them: some go unsigned or signed with a wrong secret), over
HTTP to the local API after a short journey (people signed up, the welcome program running,
a complaint). Path parameters are mostly real ids (a contact, the program, a task), so the
requests reach the code behind the authoriser. For every request:

- no answer is 5xx;
- a refused request (4xx) stored nothing: no write reached DynamoDB or S3, the tables' item
  counts and the bucket's object count did not move, no email or text was sent;
- the answer is one the document describes (status, media type, schema).

Derandomized (the same requests on every run); a few hundred requests in all."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
import schemathesis
from fuzz_support import Findings, StoreWatch, served
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from localcloud import LocalCloud
from localcloud.iam_auth import sign
from nurture.admin import routes
from tests.integration.signup import marketing, sign_up

pytestmark = pytest.mark.integration

SCHEMA = schemathesis.openapi.from_dict(json.loads(routes.served()))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
SCALE = float(os.environ.get("NURTURE_FUZZ_SCALE", "1"))
# Heavy operations (a lake copy and DuckDB per request) get fewer examples.
HEAVY = {"GET /admin/programs", "GET /admin/programs/{program_id}"}
# Erase reads every table in full: few examples, and never one of the journey's people.
SLOW = {"POST /admin/privacy/erase", "POST /admin/privacy/export"}


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture(scope="module")
def journey() -> Iterator[tuple[LocalCloud, dict[str, list[str]]]]:
    cloud = LocalCloud(frequent_schedules=False).start()
    try:
        cloud.sync_content(only=["welcome"])
        for i, email in enumerate(("ada@example.com", "alan@example.com", "grace@example.com")):
            sign_up(
                cloud,
                {
                    "email": email,
                    "first_name": "Ada",
                    "consent_newsletter": True,
                    "anonymousId": f"f{i}",
                },
            )
        cloud.advance(timedelta(hours=1))
        first = marketing(cloud)[0]
        cloud.ses_event(
            first, "Complaint", {"complainedRecipients": [{"emailAddress": first.to[0]}]}
        )
        cloud.run_until_idle()
        db = cloud.client("dynamodb")
        contacts = [
            i["pk"]["S"].removeprefix("CONTACT#")
            for i in db.scan(TableName=cloud.resolver.refs["ContactsTable"])["Items"]
            if i["pk"]["S"].startswith("CONTACT#") and i["sk"]["S"] == "PROFILE"
        ]
        ids = {"contact_id": contacts, "program_id": ["welcome"], "task_id": ["no-such-task"]}
        yield cloud, ids
    finally:
        cloud.__exit__()


def _auth_mode(data: st.DataObject) -> str:
    return data.draw(st.sampled_from(["signed"] * 8 + ["unsigned", "wrong secret"]), label="auth")


def test_admin_routes_never_fail_and_refusals_store_nothing(
    journey: tuple[LocalCloud, dict[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud, ids = journey
    watch = StoreWatch(cloud).install(monkeypatch)
    findings = Findings()
    plan: dict[str, tuple[int, int]] = {}
    for label in OPERATIONS:
        if label in HEAVY:
            plan[label] = (6, 4)
        elif label in SLOW:
            plan[label] = (8, 8)
        elif label == "GET /admin/openapi.json":
            plan[label] = (1, 0)
        else:
            plan[label] = (20, 15)
    with served(cloud) as api, requests.Session() as session:

        def campaign(label: str, mode: GenerationMode, examples: int) -> None:
            operation = OPERATIONS[label]

            @_settings(examples)
            @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
            def send(case: Any, data: st.DataObject) -> None:
                for name in case.path_parameters or {}:
                    if name in ids and data.draw(st.integers(0, 3), label=f"real {name}"):
                        case.path_parameters[name] = data.draw(st.sampled_from(ids[name]))
                if label in SLOW and isinstance(case.body, dict) and "email" in case.body:
                    digest = hashlib.sha256(str(case.body["email"]).encode()).hexdigest()[:8]
                    case.body["email"] = f"fuzz-{digest}@example.org"  # never a journey person
                raw = (
                    case.body
                    if isinstance(case.body, (dict, list, str, int, float, bool, bytes))
                    else None
                )
                if raw is None or isinstance(raw, bytes):
                    body = raw or b""
                else:
                    body = json.dumps(raw).encode()
                query = urlencode(case.query or {}, doseq=True)
                url = f"{api.url}{case.formatted_path}" + (f"?{query}" if query else "")
                prepared = requests.Request(case.method, url, data=body or None).prepare()
                mode_ = _auth_mode(data)
                headers = {"content-type": "application/json"} if body else {}
                if mode_ != "unsigned":
                    secret = "local" if mode_ == "signed" else "wrong"
                    signed = sign(case.method, str(prepared.url), body, secret=secret)
                    headers.update({k: v for k, v in signed.items() if k != "host"})
                with watch.request() as stored:
                    answer = session.request(
                        case.method,
                        str(prepared.url),
                        data=body or None,
                        headers=headers,
                        timeout=300,
                    )
                    writes, changed = stored()
                sent = {
                    "path": case.formatted_path,
                    "query": case.query,
                    "body": case.body,
                    "auth": mode_,
                }
                findings.check(label, answer.status_code, answer.text, writes, changed, sent)
                if mode_ != "signed":
                    if answer.status_code != 403:
                        findings.problems.append(f"{label} {mode_} -> {answer.status_code}")
                    return
                try:
                    case.validate_response(answer, checks=CONFORMANCE)
                except BaseExceptionGroup as exc:
                    findings.problems.append(f"{label} -> {answer.status_code}: {exc}"[:600])

            send()

        for label, (positive, negative) in plan.items():
            for mode, examples in (
                (GenerationMode.POSITIVE, positive),
                (GenerationMode.NEGATIVE, negative),
            ):
                if examples:
                    campaign(label, mode, examples)
    print(findings.summary())
    assert not findings.problems, f"{findings.summary()}; found:\n" + "\n".join(
        findings.problems[:40]
    )
    assert findings.requests >= 300 * SCALE, findings.summary()
    statuses = {status for _, status in findings.statuses}
    assert {200, 400, 403, 404} <= statuses, findings.summary()
