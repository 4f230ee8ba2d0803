"""Two reads and writes the react function no longer makes, each exact (#9, local HTTP):

* a contact never entered into a program has no enrolment to read for goals and waits: the
  profile lists every program the contact was entered into (`Contact.programs_entered`,
  added before an entry is claimed), so the enrolment Query runs only for contacts with one;
  a contact made before the list was kept (None) is read as before;
* what scoring and identity record about a change is dated by the change's note (`at`,
  kept with its `apply_once` key), so every attempt records the same item: one conditional
  put, no marker, and a retried batch (even one that lost the record) stores it once at the
  first attempt's time; a claim (`contact.claimed`) is dated by the claiming activity's
  arrival, likewise one put;
* a `contact.identified` caused by an identify or a form is not graded again: its cause was
  graded after the join (no fresh read, no guard for a change that saves nothing).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from botocore.client import BaseClient

from localcloud import LocalCloud
from nurture.adapters.dynamodb import DynamoContacts, DynamoState
from nurture.contacts import Contact
from nurture.tracking.events import Activity
from tests.integration.test_activity_writes import stream_inserts
from tests.integration.test_react_batches import identify, page_view, stream

pytestmark = pytest.mark.integration

GOAL_PROGRAM = """\
id: page-goal
name: Seen a page, until an order
trigger: {event: page}
goals:
  - {name: ordered, event: Order Completed}
steps:
  - {id: later, type: wait, duration: 2 days}
  - {id: hello, type: send_email, template: welcome-1, purpose: service}
"""


def order(browser: str) -> Activity:
    viewed = page_view(browser)
    return viewed.model_copy(
        update={"message_id": f"order-{browser}", "kind": "track", "name": "Order Completed"}
    )


class Reads:
    """The enrolment Queries made while it is installed (every client, in process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.enrolments = 0
        original = BaseClient._make_api_call

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            pk = (params.get("ExpressionAttributeValues") or {}).get(":pk", {}).get("S", "")
            self.enrolments += operation == "Query" and pk.startswith("ENROL#")
            return original(client, operation, params)

        monkeypatch.setattr(BaseClient, "_make_api_call", call)


def test_enrolments_are_read_only_for_contacts_entered_into_a_program(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.sync_content(only=[])
    cloud.upload("programs/page-goal.yaml", GOAL_PROGRAM)
    db = cloud.client("dynamodb")
    contacts = DynamoContacts(db, str(cloud.resolver.refs["ContactsTable"]))
    state = DynamoState(db, str(cloud.resolver.refs["StateTable"]))
    reads = Reads(monkeypatch)

    # A new contact: its list is kept, empty; what it does reads no enrolment
    assert cloud.invoke("ReactFunction", stream(cloud, [("INSERT", identify("b1", "a@ex.com"))]))
    contact_id = contacts.contact_for_actor("anon:b1")
    assert contact_id is not None
    fresh = contacts.get(contact_id)
    assert fresh is not None and fresh.programs_entered == []
    assert reads.enrolments == 0

    # Entering a program lists it before the entry is claimed
    cloud.invoke("ReactFunction", stream(cloud, [("INSERT", page_view("b1"))]))
    cloud.run_until_idle()  # the run started (waiting)
    entered = contacts.get(contact_id)
    assert entered is not None and entered.programs_entered == ["page-goal"]
    enrolment = state.get_enrolment(contact_id, "page-goal")
    assert enrolment is not None and enrolment.status == "started"

    # A contact with an entry has its enrolments read: the order converts the run
    before = reads.enrolments
    cloud.invoke("ReactFunction", stream(cloud, [("INSERT", order("b1"))]))
    assert reads.enrolments == before + 1
    converted = state.get_enrolment(contact_id, "page-goal")
    assert converted is not None and converted.status == "converted"

    # A contact made before the list was kept (None): read as before, and left unlisted
    cloud.invoke("ReactFunction", stream(cloud, [("INSERT", identify("b2", "b@ex.com"))]))
    legacy_id = contacts.contact_for_actor("anon:b2")
    assert legacy_id is not None

    def unlisted(contact: Contact) -> dict[str, Any]:
        contact.programs_entered = None
        return {}

    contacts.apply_once(legacy_id, "test-unlisted", unlisted)
    before = reads.enrolments
    cloud.invoke("ReactFunction", stream(cloud, [("INSERT", page_view("b2"))]))
    assert reads.enrolments == before + 1  # read, though it has none yet
    cloud.run_until_idle()
    before = reads.enrolments
    cloud.invoke("ReactFunction", stream(cloud, [("INSERT", order("b2"))]))
    assert reads.enrolments == before + 1
    legacy = contacts.get(legacy_id)
    assert legacy is not None and legacy.programs_entered is None
    ordered = state.get_enrolment(legacy_id, "page-goal")
    assert ordered is not None and ordered.status == "converted"
    cloud.run_until_idle()


def recorded(cloud: LocalCloud, contact_id: str, name: str) -> list[dict[str, Any]]:
    table = str(cloud.resolver.refs["ActivitiesTable"])
    items = cloud.client("dynamodb").query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"contact:{contact_id}"}},
    )["Items"]
    return [i for i in items if Activity.model_validate_json(i["doc"]["S"]).name == name]


def test_a_retried_batch_records_scoring_and_identity_once_at_the_first_time(
    cloud: LocalCloud, tables: Any
) -> None:
    cloud.sync_content(only=["b2b"])  # the B2B scoring model: a pricing page scores
    batch = stream(cloud, [("INSERT", identify("b3", "c@ex.com")), ("INSERT", page_view("b3"))])
    assert cloud.invoke("ReactFunction", batch) == {"batchItemFailures": []}
    contact_id = DynamoContacts(
        cloud.client("dynamodb"), str(cloud.resolver.refs["ContactsTable"])
    ).contact_for_actor("anon:b3")
    assert contact_id is not None
    names = ("contact.score_changed", "contact.grade_changed", "contact.identified")
    first = {name: recorded(cloud, contact_id, name) for name in names}
    assert all(len(items) == 1 for items in first.values()), first
    # one put each: no marker in the state table
    markers = [i for i in tables._scan("StateTable") if i["pk"]["S"].startswith("MSG#")]
    assert markers == []

    # The same batch again, later (a retry): nothing new, nothing changed
    cloud.advance(timedelta(minutes=7))
    assert cloud.invoke("ReactFunction", batch) == {"batchItemFailures": []}
    assert {name: recorded(cloud, contact_id, name) for name in names} == first

    # A retry after a crash that lost what the first attempt recorded: stored again, dated
    # by the first attempt (the change's note), once
    lost = first["contact.score_changed"][0]
    cloud.client("dynamodb").delete_item(
        TableName=str(cloud.resolver.refs["ActivitiesTable"]),
        Key={"pk": lost["pk"], "sk": lost["sk"]},
    )
    cloud.advance(timedelta(minutes=7))
    assert cloud.invoke("ReactFunction", batch) == {"batchItemFailures": []}
    assert recorded(cloud, contact_id, "contact.score_changed") == first["contact.score_changed"]
    cloud.run_until_idle()
    inserts = stream_inserts(cloud, tables)
    for name in ("contact.grade_changed", "contact.identified"):
        message_id = Activity.model_validate_json(first[name][0]["doc"]["S"]).message_id
        assert inserts[message_id] == 1, name

    # Scored: the identify (graded) and the pricing page; not the contact.identified the
    # identify caused (its cause was graded after the join: no read, no guard for it)
    guards = [
        i["sk"]["S"]
        for i in tables._scan("ContactsTable")
        if i["pk"]["S"] == f"CONTACT#{contact_id}" and i["sk"]["S"].startswith("CHANGE#score#")
    ]
    assert sorted(guards) == ["CHANGE#score#b2b#identify-b3", "CHANGE#score#b2b#page-b3"]


def test_a_retried_claim_is_recorded_once_dated_by_its_arrival(
    cloud: LocalCloud, tables: Any
) -> None:
    known = stream(cloud, [("INSERT", identify("b5", "e@ex.com"))])
    assert cloud.invoke("ReactFunction", known) == {"batchItemFailures": []}
    contact_id = DynamoContacts(
        cloud.client("dynamodb"), str(cloud.resolver.refs["ContactsTable"])
    ).contact_for_actor("anon:b5")
    assert contact_id is not None
    cloud.advance(timedelta(minutes=3))
    # another browser names the known contact with the public key: a claim, not a change
    claim = identify("b6", "e@ex.com")
    batch = stream(cloud, [("INSERT", claim)])
    for _ in range(2):  # handled, then retried later
        assert cloud.invoke("ReactFunction", batch) == {"batchItemFailures": []}
        cloud.advance(timedelta(minutes=7))
    [item] = recorded(cloud, contact_id, "contact.claimed")
    stored = Activity.model_validate_json(item["doc"]["S"])
    assert stored.properties["message_id"] == claim.message_id
    assert stored.occurred_at == claim.received_at  # not the time of either attempt
    markers = [i for i in tables._scan("StateTable") if i["pk"]["S"].startswith("MSG#")]
    assert markers == []  # one conditional put, no marker
