"""What the fault tests share: a sign-up journey that does not depend on how the shipped
newsletter form asks for consent (its own form, posted by the site's backend, and the
welcome program triggered by it), a client that retries as the tracking SDKs do, and the
checks every fault test ends with: nothing lost, nothing sent twice, nothing counted twice."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from localcloud import LocalCloud
from nurture.contacts import Contact
from nurture.tracking.events import Activity

ROOT = Path(__file__).resolve().parents[2]
FORM_ID = "faults-signup"
FORM = f"""id: {FORM_ID}
title: Newsletter (fault tests)
fields:
  - {{name: email, contact_field: email, required: true, type: email}}
  - {{name: first_name, contact_field: first_name}}
  - {{name: phone, contact_field: phone}}
consent:
  - field: consent_newsletter
    channel: email
    topic: newsletter
    text: "Yes, send me the monthly newsletter. I can unsubscribe at any time."
  - {{field: texts, channel: sms, topic: offers, text: "Text me offers"}}
"""
SECRET_KEY = "local-secret-key"  # the site's backend posts the form


def deploy_journey(cloud: LocalCloud, program: str = "welcome") -> None:
    """Forms and templates from the repository, this file's form, and `program` (from
    programs/) started by that form instead of its own trigger."""
    cloud.sync_content(only=[])
    cloud.upload(f"forms/{FORM_ID}.yaml", FORM)
    text = (ROOT / "programs" / f"{program}.yaml").read_text()
    # the program's own trigger block (indented lines after `trigger:`) gives way to ours
    text = re.sub(r"\ntrigger:\n(?:  .*\n)+", f"\ntrigger:\n  form: {FORM_ID}\n", text)
    cloud.upload(f"programs/{program}.yaml", text)
    status = json.loads(cloud.read(f"programs/{program}.status.json") or "{}")
    assert status.get("status") == "live", f"{program} did not deploy: {status}"


def deploy_program(cloud: LocalCloud, program_id: str, text: str) -> None:
    """Upload a program written in the test; it must go live."""
    cloud.upload(f"programs/{program_id}.yaml", text)
    status = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
    assert status.get("status") == "live", f"{program_id} did not deploy: {status}"


def post(cloud: LocalCloud, path: str, body: dict[str, Any], attempts: int = 8) -> tuple[int, Any]:
    """POST as the SDKs do: a 5xx (or a function that failed before answering) is sent
    again, with the same body and messageId."""
    status, answer = 0, None
    for _ in range(attempts):
        try:
            status, _, answer = cloud.http("POST", path, body, write_key=SECRET_KEY)
        except Exception as exc:  # noqa: BLE001 - API Gateway answers 500 for a failed function
            cloud.errors.append(f"client saw a failed request: {type(exc).__name__}: {exc}")
            status, answer = 500, str(exc)
        if status < 500:
            return status, answer
    return status, answer


def sign_up(cloud: LocalCloud, email: str, name: str = "Ada", **more: str) -> None:
    status, answer = post(
        cloud,
        f"/v1/forms/{FORM_ID}",
        {
            "email": email,
            "first_name": name,
            "consent_newsletter": "on",
            "messageId": email,
            **more,
        },
    )
    assert status == 202, answer


def sent_steps(cloud: LocalCloud) -> dict[str, list[str]]:
    """Each recipient's emails, by step id, in order."""
    out: dict[str, list[str]] = {}
    for email in cloud.outbox:
        out.setdefault(email.to[0], []).append(email.tags.get("step_id", "?"))
    return out


def stats(cloud: LocalCloud, program: str = "welcome") -> dict[str, dict[str, int]]:
    """The program's counters, per step, as the delivery adapter sums them."""
    return _delivery(cloud).counts(program)


def _delivery(cloud: LocalCloud) -> Any:
    from nurture.adapters.delivery import DynamoDelivery

    refs = cloud.resolver.refs
    return DynamoDelivery(cloud.client("dynamodb"), refs["StateTable"], refs["ContactsTable"])


def readable_activities(tables: Any) -> list[Activity]:
    """Every stored activity a reader can parse (a test's poison record is left out)."""
    out = []
    for item in tables.activity_items():
        try:
            out.append(Activity.model_validate_json(item["doc"]["S"]))
        except ValueError:
            continue
    return out


def assert_nothing_lost_or_doubled(
    cloud: LocalCloud, tables: Any, expected: dict[str, list[str]], program: str = "welcome"
) -> None:
    """Each contact got exactly the expected emails, once; each `email.sent` activity is
    stored once and matches the outbox; the counters match the outbox; no stored activity
    was left unread by a function."""
    cloud.run_until_idle()
    assert sent_steps(cloud) == expected
    stored = readable_activities(tables)
    sent: list[Activity] = [a for a in stored if a.name == "email.sent"]
    keys = Counter((a.contact_id, a.properties.get("step_id")) for a in sent)
    assert all(n == 1 for n in keys.values()), f"email.sent stored twice: {keys}"
    contacts: dict[str, Contact] = {c.contact_id: c for c in tables.contacts()}
    by_address = Counter(
        (contacts[str(a.contact_id)].email, str(a.properties.get("step_id"))) for a in sent
    )
    outbox = Counter((e.to[0], e.tags.get("step_id", "?")) for e in cloud.outbox)
    assert by_address == outbox, (by_address, outbox)
    counted = {step: c.get("sent", 0) for step, c in stats(cloud, program).items()}
    per_step = Counter(e.tags.get("step_id", "?") for e in cloud.outbox)
    assert {s: n for s, n in counted.items() if n} == dict(per_step), counted
    entered = Counter(
        a.contact_id
        for a in stored
        if a.name == "program.entered" and a.properties.get("program_id") == program
    )
    assert all(n == 1 for n in entered.values()), f"entered twice: {entered}"
    cloud.run_until_idle()
    undelivered = cloud.undelivered_records()
    assert undelivered == [], undelivered[:5]
