"""Shared bits of the delivery integration tests: a sign-up form with every consent, and
small program files."""

from __future__ import annotations

import json
from typing import Any

from localcloud import LocalCloud
from nurture.contacts import Contact

SIGNUP_FORM = """\
id: t-signup
fields:
  - {name: email, contact_field: email, required: true, type: email}
  - {name: first_name, contact_field: first_name}
  - {name: phone, contact_field: phone}
  - {name: timezone, contact_field: timezone}
consent:
  - {field: news, channel: email, topic: newsletter, text: "Send me the newsletter"}
  - {field: offers, channel: email, topic: offers, text: "Send me offers"}
  - {field: texts, channel: sms, topic: offers, text: "Text me offers"}
"""

TEMPLATE = """\
subject: "{subject}"
html: "<p>Hi {{{{ contact.first_name | default('there', true) }}}}</p><p><a href=\\"https://example.com/{slug}\\">Read</a></p>"
text: "Hi {{{{ contact.first_name | default('there', true) }}}} https://example.com/{slug}"
"""


def program(program_id: str, steps: str, form: str = "t-signup") -> str:
    return f"id: {program_id}\nname: {program_id}\ntrigger:\n  form: {form}\nsteps:\n{steps}"


def send(
    step_id: str,
    template: str,
    purpose: str = "marketing",
    topic: str = "newsletter",
    extra: str = "",
) -> str:
    return (
        f"  - id: {step_id}\n    type: send_email\n    template: {template}\n"
        f"    purpose: {purpose}\n    topic: {topic}\n{extra}"
    )


def setup(
    cloud: LocalCloud, programs: dict[str, str], templates: tuple[str, ...] = ("t-a", "t-b", "t-c")
) -> None:
    cloud.upload("forms/t-signup.yaml", SIGNUP_FORM)
    for name in templates:
        cloud.upload(
            f"templates/email/{name}.yaml", TEMPLATE.format(subject=f"Subject {name}", slug=name)
        )
    for program_id, text in programs.items():
        cloud.upload(f"programs/{program_id}.yaml", text)
        status = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
        assert status.get("status") == "live", status


def sign_up(cloud: LocalCloud, email: str = "ada@example.com", **fields: Any) -> None:
    body = {"email": email, "first_name": "Ada", **fields}
    status, _, answer = cloud.http("POST", "/v1/forms/t-signup", body)
    assert status == 202, answer


def contact(cloud: LocalCloud, email: str = "ada@example.com") -> Contact:
    ddb = cloud.client("dynamodb")
    items = ddb.scan(TableName=cloud.resolver.refs["ContactsTable"])["Items"]
    found = [
        Contact.model_validate_json(i["doc"]["S"])
        for i in items
        if i["sk"]["S"] == "PROFILE" and i["pk"]["S"].startswith("CONTACT#")
    ]
    [match] = [c for c in found if c.email == email]
    return match


def activities(cloud: LocalCloud, contact_id: str, name: str | None = None) -> list[dict[str, Any]]:
    ddb = cloud.client("dynamodb")
    resp = ddb.query(
        TableName=cloud.resolver.refs["ActivitiesTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"contact:{contact_id}"}},
    )
    docs = [json.loads(i["doc"]["S"]) for i in resp["Items"]]
    return [d for d in docs if name is None or d["name"] == name]


def stats(cloud: LocalCloud, program_id: str, step_id: str) -> dict[str, int]:
    """The step's counters, as the delivery adapter sums them."""
    from nurture.adapters.delivery import DynamoDelivery

    refs = cloud.resolver.refs
    delivery = DynamoDelivery(cloud.client("dynamodb"), refs["StateTable"], refs["ContactsTable"])
    return delivery.counts(program_id).get(step_id, {})


def path_of(url: str) -> str:
    return url.split("localhost:3000", 1)[1]
