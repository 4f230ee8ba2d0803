"""In-memory ports and a settable clock for the scoring unit tests."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from localcloud.fakes import InMemoryActivities
from nurture import clock
from nurture.contacts import Contact
from nurture.scoring.engine import Scorer
from nurture.scoring.model import ScoringModel
from nurture.tracking.events import Activity

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
_ids = itertools.count(1)


class FixedClock:
    def __init__(self, at: datetime = START):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


class InMemoryContacts:
    """The ContactStore port's reads and `apply_once`, with its guarantee: a key applies once."""

    def __init__(self) -> None:
        self.items: dict[str, Contact] = {}
        self.applied: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.accounts: dict[str, Any] = {}

    def get(self, contact_id: str) -> Contact | None:
        found = self.items.get(contact_id)
        return found.model_copy(deep=True) if found else None

    def save(self, contact: Contact) -> None:
        self.items[contact.contact_id] = contact.model_copy(deep=True)

    def apply_once(
        self, contact_id: str, key: str, change: Callable[[Contact], dict[str, Any] | None]
    ) -> tuple[bool, dict[str, Any] | None]:
        if (contact_id, key) in self.applied:
            return False, copy.deepcopy(self.applied[(contact_id, key)])
        contact = self.get(contact_id)
        if contact is None:
            raise KeyError(contact_id)
        note = change(contact)
        self.applied[(contact_id, key)] = copy.deepcopy(note)
        if note is not None:
            self.save(contact)
        return True, note

    def get_account(self, account_id: str) -> Any:
        return self.accounts.get(account_id)

    def scan(self) -> Iterator[Contact]:
        return iter(list(self.items.values()))


class StaticModels:
    def __init__(self, *models: dict[str, Any]):
        self.models = list(models)

    def live_models(self) -> list[dict[str, Any]]:
        return [m for m in self.models if m.get("status", "live") == "live"]


def model(text: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(text)
    ScoringModel.model_validate(data)  # fail early on a typo in a test
    return data


class World:
    """A contact, a scorer on in-memory stores, and a clock the test moves."""

    def __init__(self, *models: dict[str, Any], **profile: Any):
        self.clock = FixedClock()
        clock.set_clock(self.clock)
        self.contacts = InMemoryContacts()
        self.activities = InMemoryActivities()
        self.scorer = Scorer(self.contacts, self.activities, StaticModels(*models))
        now = clock.iso(self.clock.now())
        self.contact_id = "c-1"
        self.contacts.save(
            Contact(
                contact_id=self.contact_id,
                created_at=now,
                updated_at=now,
                email="ann@acme.example",
                stage="lead",
                **profile,
            )
        )

    @property
    def contact(self) -> Contact:
        found = self.contacts.get(self.contact_id)
        assert found is not None
        return found

    def activity(self, kind: str, name: str, **properties: Any) -> Activity:
        now = clock.iso(self.clock.now())
        return Activity(
            actor=f"contact:{self.contact_id}",
            contact_id=self.contact_id,
            message_id=f"m-{next(_ids)}",
            kind=kind,
            name=name,
            occurred_at=now,
            received_at=now,
            properties=properties,
        )

    def do(self, kind: str, name: str, **properties: Any) -> Activity:
        activity = self.activity(kind, name, **properties)
        self.activities.put_new(activity)
        self.scorer.on_activity(self.contact, activity)
        return activity

    def page(self, url: str) -> Activity:
        return self.do("page", "page", url=url)

    def recorded(self, name: str) -> list[Activity]:
        # in the order recorded (several may share a millisecond)
        return [a for a in self.activities.items.values() if a.name == name]

    def close(self) -> None:
        clock.set_clock(clock.SystemClock())
