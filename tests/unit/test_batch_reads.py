"""The react function's batch reads (nurture.adapters.batch_reads) on moto's DynamoDB: reads
shared within one invocation and counted, writes through them seen by later records, what
others wrote seen from the next invocation on, and no cache outside an invocation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto_tables import key_tables

from localcloud.partiql_bridge import install_partiql_inserts
from nurture.adapters.batch_reads import BatchActivities, BatchContacts, BatchReads, BatchState
from nurture.adapters.dynamodb import DynamoActivities, DynamoContacts, DynamoState
from nurture.contacts import Contact
from nurture.ports import Enrolment, WaitRegistration
from nurture.tracking.events import Activity

NOW = "2026-03-02T10:00:00Z"


class Calls:
    """Every DynamoDB operation the client sends."""

    def __init__(self, client: Any):
        self.names: list[str] = []
        client.meta.events.register("before-call.dynamodb", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        self.names.append(model.name)

    def since(self, mark: int) -> list[str]:
        return self.names[mark:]


@pytest.fixture
def db() -> Iterator[Any]:
    install_partiql_inserts()  # ingest's INSERTs, as DynamoDB answers them (moto overwrites)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        key_tables(client, *("contacts", "state", "activities"))
        yield client


def contact(contact_id: str, *actors: str, **fields: Any) -> Contact:
    return Contact(
        contact_id=contact_id, created_at=NOW, updated_at=NOW, actors=list(actors), **fields
    )


def page(visitor: str, n: int, contact_id: str | None = None) -> Activity:
    return Activity(
        actor=f"anon:{visitor}",
        message_id=f"m-{visitor}-{n}",
        kind="page",
        name="page",
        occurred_at=f"2026-03-02T10:00:{n:02d}Z",
        received_at=NOW,
        anonymous_id=visitor,
        contact_id=contact_id,
        properties={"url": "https://x.example/"},
    )


def seeded(db: Any) -> tuple[DynamoContacts, BatchReads, Calls]:
    plain = DynamoContacts(db, "contacts")
    for c in (
        contact("c-1", "anon:v1", "email:ann@x.example", first_name="Ann"),
        contact("c-2", "anon:v2"),
    ):
        plain.save(c)
        for actor in c.actors:
            plain.link_actor(actor, c.contact_id)
    reads = BatchReads(
        BatchContacts(db, "contacts"),
        BatchActivities(db, "activities", "state"),
        BatchState(db, "state"),
    )
    return plain, reads, Calls(db)


def test_a_batch_reads_who_its_records_are_about_in_bulk_and_shares_it(db: Any) -> None:
    _, reads, calls = seeded(db)
    batch = [page("v1", 1), page("v2", 2), page("v9", 3), page("v1", 4), page("vx", 5, "c-2")]
    with reads.batch(batch):
        assert calls.names == ["BatchGetItem", "BatchGetItem"]  # actor keys, then profiles
        mark = len(calls.names)
        assert reads.contacts.contact_for_actor("anon:v1") == "c-1"
        assert reads.contacts.contact_for_actor("anon:v9") is None  # nobody: asked, not read
        first = reads.contacts.get("c-1")
        assert first is not None and first.first_name == "Ann"
        assert reads.contacts.get("c-2") is not None
        assert calls.since(mark) == []
        # a copy each time: editing what one record got changes nothing for the next
        first.first_name = "Changed"
        again = reads.contacts.get("c-1")
        assert again is not None and again.first_name == "Ann"
        # what the batch did not ask about is read as before
        assert reads.contacts.contact_for_actor("email:ann@x.example") == "c-1"
        assert calls.since(mark) == ["GetItem"]


def test_writes_through_the_batch_are_seen_by_its_later_records(db: Any) -> None:
    _, reads, calls = seeded(db)
    with reads.batch([page("v1", 1), page("v7", 2)]):
        assert reads.contacts.contact_for_actor("anon:v7") is None
        reads.contacts.link_actor("anon:v7", "c-1")
        assert reads.contacts.contact_for_actor("anon:v7") == "c-1"

        def rename(c: Contact) -> dict[str, Any] | None:
            c.first_name = "Anna"
            return {"fields": ["first_name"]}

        assert reads.contacts.apply_once("c-1", "rename#1", rename) == (
            True,
            {"fields": ["first_name"]},
        )

        def edits_but_saves_nothing(c: Contact) -> dict[str, Any] | None:
            c.last_name = "Unsaved"
            return None

        reads.contacts.apply_once("c-1", "nothing#1", edits_but_saves_nothing)
        mark = len(calls.names)
        seen = reads.contacts.get("c-1")
        assert seen is not None and (seen.first_name, seen.last_name) == ("Anna", None)
        assert calls.since(mark) == []
        made = reads.contacts.create_for_actor(contact("c-3", "user:u3"), "user:u3")
        assert made.contact_id == "c-3"
        assert reads.contacts.contact_for_actor("user:u3") == "c-3"
        assert reads.contacts.get("c-3") is not None
        assert calls.since(mark) == ["TransactWriteItems"]
    stored = DynamoContacts(db, "contacts").get("c-1")
    assert stored is not None and (stored.first_name, stored.last_name) == ("Anna", None)


def test_a_change_applied_before_is_read_again(db: Any) -> None:
    plain, reads, calls = seeded(db)

    def rename(c: Contact) -> dict[str, Any] | None:
        c.first_name = "Anne"
        return {"fields": ["first_name"]}

    with reads.batch([page("v1", 1)]):
        plain.apply_once("c-1", "rename#1", rename)  # another invocation, first
        applied, _ = reads.contacts.apply_once("c-1", "rename#1", rename)  # a retry here
        assert not applied
        mark = len(calls.names)
        seen = reads.contacts.get("c-1")
        assert seen is not None and seen.first_name == "Anne"
        assert calls.since(mark) == ["GetItem"]


def _rename(to: str) -> Any:
    def change(c: Contact) -> dict[str, Any] | None:
        if c.first_name == to:
            return None
        c.first_name = to
        return {"fields": ["first_name"]}

    return change


def test_a_change_is_made_on_the_kept_profile_without_reading_it_again(db: Any) -> None:
    _, reads, calls = seeded(db)
    with reads.batch([page("v1", 1)]):
        mark = len(calls.names)
        assert reads.contacts.apply_once("c-1", "a#1", _rename("Anna"))[0]
        assert calls.since(mark) == ["TransactWriteItems"]  # prefetched: no GetItem
        assert reads.contacts.apply_once("c-1", "a#2", _rename("Annie"))[0]
        assert calls.since(mark) == ["TransactWriteItems"] * 2  # kept as it was written
        mark = len(calls.names)
        # "nothing to save" is decided on a fresh read, and the guard still taken
        assert reads.contacts.apply_once("c-1", "a#3", _rename("Annie")) == (True, None)
        assert calls.since(mark) == ["GetItem", "PutItem"]
        assert reads.contacts.apply_once("c-1", "a#3", _rename("Other"))[0] is False
    stored = DynamoContacts(db, "contacts").get("c-1")
    assert stored is not None and stored.first_name == "Annie"


def test_a_kept_profile_another_writer_changed_is_read_again_and_nothing_is_lost(
    db: Any,
) -> None:
    plain, reads, calls = seeded(db)

    def tag(c: Contact) -> dict[str, Any] | None:
        c.fields["tagged"] = True
        return {"fields": []}

    with reads.batch([page("v1", 1)]):
        assert plain.apply_once("c-1", "other#1", tag)[0]  # another invocation, meanwhile
        mark = len(calls.names)
        assert reads.contacts.apply_once("c-1", "a#1", _rename("Anna")) == (
            True,
            {"fields": ["first_name"]},
        )
        # the kept copy's version was stale: the write failed, the change was made again
        assert calls.since(mark) == ["TransactWriteItems", "GetItem", "TransactWriteItems"]
        seen = reads.contacts.get("c-1")
        assert seen is not None and (seen.first_name, seen.fields) == ("Anna", {"tagged": True})
    stored = plain.get("c-1")
    assert stored is not None and (stored.first_name, stored.fields) == ("Anna", {"tagged": True})


def test_a_retry_on_a_kept_profile_gets_the_first_note_back(db: Any) -> None:
    plain, reads, calls = seeded(db)
    with reads.batch([page("v1", 1)]):
        assert plain.apply_once("c-1", "a#1", _rename("Anna"))[0]  # the first attempt
        mark = len(calls.names)
        assert reads.contacts.apply_once("c-1", "a#1", _rename("Anna")) == (
            False,
            {"fields": ["first_name"]},
        )
        # the kept copy still says Ann: the write finds the key taken, then reads its note
        assert calls.since(mark) == ["TransactWriteItems", "GetItem"]
        seen = reads.contacts.get("c-1")  # read again, as stored
        assert seen is not None and seen.first_name == "Anna"


def test_actor_keys_are_linked_in_one_write_and_kept(db: Any) -> None:
    _, reads, calls = seeded(db)
    with reads.batch([page("v1", 1), page("v6", 2)]):
        mark = len(calls.names)
        reads.contacts.link_actors(["anon:v6", "user:u6", "anon:v6"], "c-1")
        assert calls.since(mark) == ["BatchWriteItem"]
        assert reads.contacts.contact_for_actor("anon:v6") == "c-1"
        assert reads.contacts.contact_for_actor("user:u6") == "c-1"
        assert calls.since(mark) == ["BatchWriteItem"]
    plain = DynamoContacts(db, "contacts")
    assert plain.contact_for_actor("user:u6") == plain.contact_for_actor("anon:v6") == "c-1"
    mark = len(calls.names)
    plain.link_actors(["user:u7"], "c-2")
    assert calls.since(mark) == ["PutItem"]


def identify(visitor: str, email: str) -> Activity:
    return Activity(
        actor=f"anon:{visitor}",
        message_id=f"i-{visitor}",
        kind="identify",
        name="identify",
        occurred_at=NOW,
        received_at=NOW,
        anonymous_id=visitor,
        traits={"email": email},
    )


def test_an_email_the_batch_found_taken_returns_its_contact_without_a_write(db: Any) -> None:
    _, reads, calls = seeded(db)
    with reads.batch([identify("v1", " Ann@X.example"), identify("v4", "new@x.example")]):
        mark = len(calls.names)
        assert reads.contacts.contact_for_actor("email:ann@x.example") == "c-1"  # prefetched
        found = reads.contacts.create_if_absent(contact("c-new", "anon:v1"), "ann@x.example")
        assert found.contact_id == "c-1" and found.first_name == "Ann"
        assert calls.since(mark) == []
        # an address nobody had: created as before (the key is the lock)
        made = reads.contacts.create_if_absent(contact("c-4", "anon:v4"), "new@x.example")
        assert made.contact_id == "c-4"
        assert calls.since(mark) == ["TransactWriteItems"]


def test_what_others_wrote_is_seen_from_the_next_batch_and_nothing_is_kept_outside_one(
    db: Any,
) -> None:
    plain, reads, calls = seeded(db)
    with reads.batch([page("v8", 1)]):
        assert reads.contacts.contact_for_actor("anon:v8") is None
        plain.link_actor("anon:v8", "c-2")  # another function, meanwhile
    with reads.batch([page("v8", 2)]):
        assert reads.contacts.contact_for_actor("anon:v8") == "c-2"
    mark = len(calls.names)
    plain.save(contact("c-2", "anon:v2", "anon:v8", first_name="Bo"))
    seen = reads.contacts.get("c-2")
    assert seen is not None and seen.first_name == "Bo"
    assert reads.contacts.contact_for_actor("anon:v8") == "c-2"
    assert calls.since(mark) == ["PutItem", "GetItem", "GetItem"]


def test_a_key_taken_meanwhile_is_found_by_a_create_that_loses(db: Any) -> None:
    plain, reads, _ = seeded(db)
    with reads.batch([page("v5", 1, None)]):
        assert reads.contacts.contact_for_actor("anon:v5") is None  # cached: nobody
        plain.create_for_actor(contact("c-other", "anon:v5"), "anon:v5")  # another invocation
        found = reads.contacts.create_for_actor(contact("c-mine", "anon:v5"), "anon:v5")
        assert found.contact_id == "c-other"
        assert reads.contacts.contact_for_actor("anon:v5") == "c-other"


def test_enrolments_are_read_once_per_contact_and_again_after_a_write(db: Any) -> None:
    _, reads, calls = seeded(db)
    other = DynamoState(db, "state")
    assert other.claim_entry(Enrolment("c-1", "p-1", "run-1", NOW), replaces=None)
    with reads.batch([page("v1", 1)]):
        mark = len(calls.names)
        assert [e.program_id for e in reads.state.enrolments_of("c-1")] == ["p-1"]
        assert [e.program_id for e in reads.state.enrolments_of("c-1")] == ["p-1"]
        assert calls.since(mark) == ["Query"]
        assert reads.state.claim_entry(Enrolment("c-1", "p-2", "run-2", NOW), replaces=None)
        reads.state.set_entry_status("c-1", "p-2", "run-2", "started", "arn:run-2")
        found = {e.program_id: e.status for e in reads.state.enrolments_of("c-1")}
        assert found == {"p-1": "pending", "p-2": "started"}
    mark = len(calls.names)
    reads.state.enrolments_of("c-1")
    reads.state.enrolments_of("c-1")
    assert calls.since(mark) == ["Query", "Query"]


def test_histories_are_shared_and_a_recorded_activity_is_seen(db: Any) -> None:
    _, reads, calls = seeded(db)
    ingest = DynamoActivities(db, "activities", "state")
    ingest.put_many_new([page("v1", 1), page("v1", 2)])
    with reads.batch([page("v1", 3)]):
        mark = len(calls.names)
        assert len(reads.activities.list_for(["anon:v1"], 50)) == 2
        assert len(reads.activities.list_for(["anon:v1"], 50)) == 2
        assert calls.since(mark) == ["Query"]
        recorded = page("v1", 9).model_copy(update={"message_id": "rec-1"})
        assert reads.activities.put_new(recorded)
        assert {a.message_id for a in reads.activities.list_for(["anon:v1"], 50)} == {
            "m-v1-1",
            "m-v1-2",
            "rec-1",
        }


def test_waits_are_read_once_per_key_and_a_resumed_one_is_gone(db: Any) -> None:
    _, reads, calls = seeded(db)
    wait = WaitRegistration("c-1", "page", "run-1", "look", "token-1", 2_000_000_000)
    DynamoState(db, "state").register_wait(wait)  # the steps function, before the batch
    with reads.batch([page("v1", 1), page("v1", 2)]):
        mark = len(calls.names)
        assert reads.state.waits_for("c-1", "page") == [wait]
        assert reads.state.waits_for("c-1", "page") == [wait]
        assert reads.state.waits_for("c-1", "track:signed_up") == []
        assert calls.since(mark) == ["Query", "Query"]
        reads.state.remove_wait(wait)  # resumed by the first page view
        assert reads.state.waits_for("c-1", "page") == []
    mark = len(calls.names)
    assert reads.state.waits_for("c-1", "page") == []
    assert reads.state.waits_for("c-1", "page") == []
    assert calls.since(mark) == ["Query", "Query"]
