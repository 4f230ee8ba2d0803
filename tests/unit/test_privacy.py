"""nurture.privacy without AWS: who a request is about, what counts as mentioning them
(whole tokens only, so a neighbour's data is never taken for theirs), bad requests, and the
order and record of an erase."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nurture.contacts import Contact
from nurture.ports import Enrolment
from nurture.privacy import service
from nurture.privacy.hashes import erased_hash

NOW = "2026-01-05T10:00:00.000Z"


class Contacts:
    def __init__(self, contact: Contact):
        self.contact = contact

    def contact_for_actor(self, actor: str) -> str | None:
        return self.contact.contact_id if actor == f"email:{self.contact.email}" else None

    def get(self, contact_id: str) -> Contact | None:
        return self.contact if contact_id == self.contact.contact_id else None


class Items:
    def __init__(self, tables: dict[str, list[dict[str, Any]]]):
        self.tables = tables
        self.erased: list[tuple[str, str]] = []
        self.audits: list[dict[str, Any]] = []
        self.calls: list[str] = []

    def find(self, mentions: Any) -> dict[str, list[dict[str, Any]]]:
        return {t: [i for i in rows if mentions(json.dumps(i))] for t, rows in self.tables.items()}

    def delete(self, table: str, items: list[dict[str, Any]]) -> int:
        self.calls.append(f"delete {table}")
        self.tables[table] = [i for i in self.tables[table] if i not in items]
        return len(items)

    def put_erased(self, key_hash: str, channel: str, at: str) -> None:
        self.erased.append((channel, key_hash))

    def put_audit(self, record: dict[str, Any]) -> None:
        self.audits.append(record)


class NoSchedules:
    def find(self, mentions: Any) -> list[dict[str, Any]]:
        return []

    def delete(self, names: list[str]) -> int:
        return 0


class Exports:
    def __init__(self) -> None:
        self.written: dict[str, bytes] = {}

    def write(self, key: str, body: bytes) -> str:
        self.written[key] = body
        return f"https://bucket/{key}?X-Amz-Expires=900"

    def delete_prefix(self, prefix: str) -> int:
        gone = [k for k in self.written if k.startswith(prefix)]
        for k in gone:
            del self.written[k]
        return len(gone)

    def purge_old_versions(self, prefixes: list[str], mentions: Any) -> int:
        return 0


class Lake:
    def list(self, prefix: str) -> list[str]:
        return []


class State:
    def enrolments_of(self, contact_id: str) -> list[Enrolment]:
        return [
            Enrolment(
                contact_id,
                "welcome",
                f"welcome--{contact_id}",
                NOW,
                "started",
                execution_arn="arn:x:welcome--c1",
            )
        ]


class Workflows:
    def __init__(self) -> None:
        self.stopped: list[tuple[str, str]] = []

    def stop(self, arn: str, cause: str) -> bool:
        self.stopped.append((arn, cause))
        return True


def ada() -> Contact:
    return Contact(
        contact_id="c1a2b3",
        created_at=NOW,
        updated_at=NOW,
        email="ada@example.com",
        actors=["anon:v-ada", "email:ada@example.com"],
    )


def tables() -> dict[str, list[dict[str, Any]]]:
    return {
        "contacts": [
            {"pk": "CONTACT#c1a2b3", "sk": "PROFILE"},
            {"pk": "ACTOR#email:ada@example.com", "sk": "CONTACT"},
            {"pk": "ACTOR#email:bada@example.com", "sk": "CONTACT"},  # another person
            {"pk": "CONTACT#c1a2b3x", "sk": "PROFILE"},  # an id that merely starts like hers
        ],
        "activities": [
            {"pk": "anon:v-ada", "sk": "1#m1", "doc": '{"contact_id": "c1a2b3"}'},
            {"pk": "anon:v-ada2", "sk": "1#m2"},
        ],
        "state": [
            {"pk": "ENROL#c1a2b3", "sk": "PROGRAM#welcome"},
            {"pk": "WAIT#c1a2b3#email.clicked", "sk": "x"},
            {"pk": "TASKS#sam", "sk": "TASK#1", "contact_id": "c1a2b3"},
            {"pk": "PROGRAM#welcome", "sk": "LIVE"},
        ],
    }


def test_mentions_are_whole_tokens() -> None:
    subject = service.find_subject(Contacts(ada()), {"email": " ADA@Example.com"})
    match = subject.matcher()
    assert match('"CONTACT#c1a2b3"') and match("contact:c1a2b3") and match("anon:v-ada")
    assert not match("bada@example.com") and not match("CONTACT#c1a2b3x")
    assert not match("anon:v-ada2") and not match("ada@example.community")


def test_an_erase_stops_runs_deletes_mentions_and_leaves_a_hash() -> None:
    items, flows, exports = Items(tables()), Workflows(), Exports()
    service.export_person(
        Contacts(ada()), items, NoSchedules(), exports, {"email": "ada@example.com"}
    )
    [bundle] = [json.loads(b) for b in exports.written.values()]
    assert bundle["profile"]["email"] == "ada@example.com" and len(bundle["activities"]) == 1
    assert len(bundle["program_runs"]) == 2 and len(bundle["tasks"]) == 1

    answer = service.erase_person(
        Contacts(ada()),
        State(),
        flows,
        items,
        NoSchedules(),
        exports,
        Lake(),
        {"email": "ada@example.com"},
    )  # type: ignore[arg-type]
    assert flows.stopped == [("arn:x:welcome--c1", service.STOP_CAUSE)]
    assert items.calls == ["delete state", "delete activities", "delete contacts"]  # identity last
    left = [i["pk"] for rows in items.tables.values() for i in rows]
    assert left == [
        "ACTOR#email:bada@example.com",
        "CONTACT#c1a2b3x",
        "anon:v-ada2",
        "PROGRAM#welcome",
    ]
    assert exports.written == {}
    assert items.erased == [("email", erased_hash("email", "ada@example.com"))]
    assert erased_hash("email", " ADA@example.COM ") == erased_hash("email", "ada@example.com")
    [audit] = items.audits
    assert "ada" not in json.dumps(audit) and "c1a2b3" not in json.dumps(audit)
    assert audit["counts"]["contacts_items_deleted"] == 2 and answer["hashes"] == audit["hashes"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "email"),
        ([], "body"),
        ({"email": 3}, "email"),
        ({"email": "x"}, "email"),
        ({"contact_id": " "}, "contact_id"),
        ({"email": "a@b.c" * 100}, "email"),
    ],
)
def test_bad_requests_name_the_field(body: Any, field: str) -> None:
    with pytest.raises(service.PrivacyRequestError) as caught:
        service.parse_request(body)
    assert caught.value.field == field
