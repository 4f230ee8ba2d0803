"""The react function's stream batches on the local cloud: it acts on new activities only
(INSERT records; it does not rely on the event source mapping's filter), and a record sees
what an earlier record of the same batch wrote, though the batch's reads were made in bulk
before its first record (nurture.adapters.batch_reads)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud import LocalCloud
from nurture import clock
from nurture.adapters.dynamodb import DynamoContacts, DynamoState
from nurture.tracking.events import Activity

pytestmark = pytest.mark.integration

PAGE_PROGRAM = """\
id: page-seen
name: Seen a page
trigger: {event: page}
steps:
  - {id: hello, type: send_email, template: welcome-1, purpose: service}
"""


def stream(cloud: LocalCloud, records: list[tuple[str, Activity]]) -> dict[str, Any]:
    arn = cloud.functions["ReactFunction"].events["Activity"]["Properties"]["Stream"]
    return {
        "Records": [
            {
                "eventID": f"test-{n}",
                "eventName": name,
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "Keys": {"pk": {"S": a.actor}, "sk": {"S": f"M#{a.message_id}"}},
                    "NewImage": {
                        "pk": {"S": a.actor},
                        "sk": {"S": f"M#{a.message_id}"},
                        "doc": {"S": a.model_dump_json()},
                    },
                    "SequenceNumber": str(20_000 + n),
                    "SizeBytes": 100,
                    "StreamViewType": "NEW_IMAGE",
                },
                "eventSourceARN": arn,
            }
            for n, (name, a) in enumerate(records)
        ]
    }


def identify(browser: str, email: str) -> Activity:
    now = clock.iso(clock.now())
    return Activity(
        actor=f"anon:{browser}",
        message_id=f"identify-{browser}",
        kind="identify",
        name="identify",
        occurred_at=now,
        received_at=now,
        anonymous_id=browser,
        traits={"email": email},
    )


def page_view(browser: str) -> Activity:
    now = clock.iso(clock.now())
    return Activity(
        actor=f"anon:{browser}",
        message_id=f"page-{browser}",
        kind="page",
        name="page",
        occurred_at=now,
        received_at=now,
        anonymous_id=browser,
        properties={"url": "https://www.example.com/pricing"},
    )


def test_only_new_activities_are_acted_on(cloud: LocalCloud) -> None:
    contacts = DynamoContacts(cloud.client("dynamodb"), str(cloud.resolver.refs["ContactsTable"]))
    changed = identify("browser-m", "mod@example.com")
    answer = cloud.invoke(
        "ReactFunction",
        stream(cloud, [("MODIFY", changed), ("REMOVE", identify("browser-r", "rem@example.com"))]),
    )
    assert answer == {"batchItemFailures": []}
    assert contacts.contact_for_actor("email:mod@example.com") is None
    assert contacts.contact_for_actor("email:rem@example.com") is None

    answer = cloud.invoke("ReactFunction", stream(cloud, [("INSERT", changed)]))
    assert answer == {"batchItemFailures": []}
    assert contacts.contact_for_actor("email:mod@example.com") is not None
    cloud.run_until_idle()


def test_a_record_sees_what_an_earlier_record_of_its_batch_wrote(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    cloud.upload("programs/page-seen.yaml", PAGE_PROGRAM)
    status = json.loads(cloud.read("programs/page-seen.status.json") or "{}")
    assert status.get("status") == "live", status

    # Given a batch whose first record makes the browser a contact, and whose second is a
    # page view of the same browser (unknown when the batch's reads were made)
    batch = [
        ("INSERT", identify("browser-b", "cat@example.com")),
        ("INSERT", page_view("browser-b")),
    ]
    answer = cloud.invoke("ReactFunction", stream(cloud, batch))
    assert answer == {"batchItemFailures": []}

    # Then the page view was a known contact's: it started the program
    db = cloud.client("dynamodb")
    contacts = DynamoContacts(db, str(cloud.resolver.refs["ContactsTable"]))
    contact_id = contacts.contact_for_actor("anon:browser-b")
    assert contact_id is not None
    enrolment = DynamoState(db, str(cloud.resolver.refs["StateTable"])).get_enrolment(
        contact_id, "page-seen"
    )
    assert enrolment is not None and enrolment.status == "started"
    cloud.run_until_idle()
