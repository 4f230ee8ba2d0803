"""Helpers for the sales tests: a local cloud with the b2b scoring model and the sales team,
and a lead who warms up over the real HTTP API until the model makes them an MQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from localcloud import LocalCloud
from localcloud.capture import CapturedEmail
from localcloud.iam_auth import sign
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts
from nurture.contacts import Contact
from nurture.tracking.events import Activity

CRM_SECRET = "crm-test-secret-0123456789abcdef"  # noqa: S105 - a test value
TEAM = "sales/team.yaml"


@contextmanager
def sales_cloud(start: datetime | None = None, team: str | None = None) -> Iterator[LocalCloud]:
    """The cloud with forms, templates, the team and the b2b model (no programs)."""
    secrets = {
        "webhook-secrets": json.dumps(
            {"default": "local-webhook-secret-0123456789", "crm": CRM_SECRET}
        )
    }
    kwargs: dict[str, Any] = {"secrets": secrets}
    if start is not None:
        kwargs["start"] = start
    cloud = LocalCloud(**kwargs).start()
    try:
        cloud.sync_content(only=["b2b"])
        if team is not None:
            cloud.upload(TEAM, team)
        yield cloud
    finally:
        cloud.__exit__()


def post(cloud: LocalCloud, path: str, body: dict[str, Any]) -> None:
    status, _, answer = cloud.http("POST", path, body)
    assert status == 200, answer


def warm_up(cloud: LocalCloud, user: str, email: str, **traits: Any) -> None:
    """A VP at a 200-person software company (grade A) views pricing and requests a demo:
    behaviour 15 + 40 = 55 crosses the b2b model's MQL rule (50, grade B or better)."""
    profile = {
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "job_title": "VP Engineering",
        "company": "Analytical Engines",
        "country": "FI",
        "company_industry": "software",
        "company_employees": 200,
        **traits,
    }
    post(cloud, "/v1/identify", {"userId": user, "traits": profile, "messageId": f"id-{user}"})
    post(
        cloud,
        "/v1/page",
        {
            "userId": user,
            "name": "Pricing",
            "properties": {"url": "https://example.com/pricing", "title": "Pricing"},
            "messageId": f"pricing-{user}",
        },
    )
    post(
        cloud,
        "/v1/track",
        {"userId": user, "event": "demo_requested", "messageId": f"demo-{user}"},
    )


def contact_by_email(cloud: LocalCloud, email: str) -> Contact:
    contacts = DynamoContacts(cloud.client("dynamodb"), cloud.resolver.refs["ContactsTable"])
    contact_id = contacts.contact_for_actor(f"email:{email}")
    assert contact_id, f"no contact for {email}"
    found = contacts.get(contact_id)
    assert found is not None
    return found


def history(cloud: LocalCloud, contact: Contact) -> list[Activity]:
    """Everything stored for the contact, newest first."""
    store = DynamoActivities(
        cloud.client("dynamodb"),
        cloud.resolver.refs["ActivitiesTable"],
        cloud.resolver.refs["StateTable"],
    )
    return store.list_for([*contact.actors, f"contact:{contact.contact_id}"], 1000)


def named(cloud: LocalCloud, contact: Contact, name: str) -> list[Activity]:
    return [a for a in history(cloud, contact) if a.name == name]


def emails_to(cloud: LocalCloud, address: str, kind: str = "sales_mql") -> list[CapturedEmail]:
    """The hand-off emails (or, with kind="sales_digest", the digests) sent to `address`."""
    return [e for e in cloud.outbox if address in e.to and e.tags.get("kind") == kind]


def button(email: CapturedEmail, label: str) -> str:
    """The path of a signed button in the email's text part (`Accept: <url>`)."""
    match = re.search(rf"^\s*{re.escape(label)}:\s+(\S+)", email.text, re.MULTILINE)
    assert match, f"no {label!r} link in:\n{email.text}"
    return match.group(1).removeprefix("http://localhost:3000")


def admin(cloud: LocalCloud, method: str, path: str) -> tuple[int, Any]:
    """A request to the IAM-authorised admin API, SigV4-signed with the local credentials."""
    headers = sign(method, f"http://localhost{path}", b"")
    status, _, body = cloud.http(method, path, b"", headers=headers, write_key=None)
    return status, body
