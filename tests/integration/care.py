"""Helpers for the care program tests: a visitor or customer driven through the public API
of the local cloud, and readable views of what the system sent, decided and stored."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from localcloud import LocalCloud
from localcloud.cloud import CapturedEmail
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.contacts import Contact
from nurture.ports import Enrolment, Task
from nurture.tracking.events import Activity
from tests.integration.signup import confirm as follow_confirmation

_ids = itertools.count(1)


def deploy(cloud: LocalCloud, *programs: str) -> None:
    """Upload forms, templates and the named programs; each must go live."""
    cloud.sync_content(only=list(programs))
    for program in programs:
        status = json.loads(cloud.read(f"programs/{program}.status.json") or "{}")
        assert status.get("status") == "live", f"{program} did not deploy: {status}"


@dataclass
class Person:
    """Someone using the website or shop: an anonymous id, and once known, an email."""

    cloud: LocalCloud
    email: str
    anonymous_id: str = field(default_factory=lambda: f"visitor-{next(_ids)}")

    def _post(self, path: str, body: dict[str, Any], write_key: str = "local-write-key") -> Any:
        status, _, answer = self.cloud.http("POST", path, body, write_key=write_key)
        assert status in (200, 202), f"{path}: {status} {answer}"
        return answer

    def form(self, form_id: str, confirm: bool = True, **fields: Any) -> None:
        """Submit a form; with `confirm`, follow its double opt-in email as the person would."""
        sent = len(self.cloud.outbox)
        self._post(
            f"/v1/forms/{form_id}",
            {
                "email": self.email,
                "anonymousId": self.anonymous_id,
                "messageId": f"form-{next(_ids)}",
                **fields,
            },
        )
        if confirm:
            # in their own browser, which the confirmation thereby proves
            follow_confirmation(self.cloud, since=sent, to=self.email, browser=self.anonymous_id)

    def identify(self, **traits: Any) -> None:
        """What the shop's or CRM's backend knows of the person (a stage, an owner, an
        address): sent with the secret key, which may change a known contact."""
        self._post(
            "/v1/identify",
            {"anonymousId": self.anonymous_id, "messageId": f"id-{next(_ids)}", "traits": traits},
            write_key="local-secret-key",
        )

    def track(self, event: str, **properties: Any) -> None:
        self._post(
            "/v1/track",
            {
                "anonymousId": self.anonymous_id,
                "messageId": f"ev-{next(_ids)}",
                "event": event,
                "properties": properties,
            },
        )

    def page(self, url: str, title: str = "") -> None:
        self._post(
            "/v1/page",
            {
                "anonymousId": self.anonymous_id,
                "messageId": f"pv-{next(_ids)}",
                "name": title or url.rsplit("/", 1)[-1],
                "properties": {"url": url, "title": title or url},
            },
        )

    # --- what the system did -------------------------------------------------------------
    def emails(self) -> list[CapturedEmail]:
        """What programs sent them (the forms' double opt-in emails aside: `form` confirms)."""
        return [
            e
            for e in self.cloud.outbox
            if self.email in e.to and e.tags.get("kind") != "double_opt_in"
        ]

    def subjects(self) -> list[str]:
        return [e.subject for e in self.emails()]

    def mail(self, subject_part: str) -> CapturedEmail:
        found = [e for e in self.emails() if subject_part in e.subject]
        assert len(found) == 1, f"{subject_part!r}: {self.subjects()}"
        return found[0]

    def contact(self) -> Contact:
        contacts = DynamoContacts(self.cloud.client("dynamodb"), table(self.cloud, "ContactsTable"))
        found = [c for c in contacts.scan() if c.email == self.email]
        assert len(found) == 1, f"expected one contact for {self.email}"
        return found[0]

    def activities(self, name: str | None = None) -> list[Activity]:
        """What is stored about the contact, oldest first (only `name`, if given)."""
        contact = self.contact()
        store = DynamoActivities(
            self.cloud.client("dynamodb"),
            table(self.cloud, "ActivitiesTable"),
            table(self.cloud, "StateTable"),
        )
        found = store.list_for([*contact.actors, f"contact:{contact.contact_id}"], 1000)
        return [a for a in reversed(found) if name is None or a.name == name]

    def timeline(self) -> list[str]:
        contact_id = self.contact().contact_id
        return [e.what for e in self.cloud.timeline if e.who == contact_id]

    def branches(self) -> list[str]:
        return [line for line in self.timeline() if line.startswith("branch taken")]

    def enrolment(self, program_id: str) -> Enrolment | None:
        return state(self.cloud).get_enrolment(self.contact().contact_id, program_id)


def table(cloud: LocalCloud, logical_id: str) -> str:
    return str(cloud.resolver.refs[logical_id])


def state(cloud: LocalCloud) -> DynamoState:
    return DynamoState(cloud.client("dynamodb"), table(cloud, "StateTable"))


def tasks(cloud: LocalCloud, assignee: str) -> list[Task]:
    return state(cloud).tasks_for(assignee)


def sent_at(email: CapturedEmail, start: datetime) -> timedelta:
    """How long after `start` an email went out."""
    return email.sent_at - start
