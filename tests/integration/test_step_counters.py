"""Per program step counters (DynamoDelivery.count / counts) on DynamoDB through boto3:
each counted event is one conditional PutItem, its own dedupe guard, so an event redelivered,
retried, or raced by a copy counts once, with no transaction (1 write unit, where the guard
and the counter in a transaction cost 4)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto_tables import key_tables

from localcloud.fakes import InMemoryActivities
from nurture import clock
from nurture.adapters.delivery import DynamoDelivery
from nurture.delivery.engagement import EngagementRecorder

pytestmark = pytest.mark.integration

STATE, CONTACTS = "state", "contacts"
TAGS = {
    "contact_id": ["c-1"],
    "program_id": ["welcome"],
    "step_id": ["welcome-1"],
    "send_id": ["send-1"],
}


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 8, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    clock.set_clock(FixedClock())
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        key_tables(ddb, *(STATE, CONTACTS))
        yield ddb
    clock.set_clock(clock.SystemClock())


def calls(ddb: Any) -> Counter[str]:
    seen: Counter[str] = Counter()
    ddb.meta.events.register("before-call.dynamodb", lambda model, **_: seen.update([model.name]))
    return seen


def test_an_event_counted_twice_counts_once_in_one_put_and_no_transaction(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    made = calls(client)
    assert store.count("welcome", "welcome-1", {"delivered": 1}, "event-1") is True
    assert store.count("welcome", "welcome-1", {"delivered": 1}, "event-1") is False
    assert store.count("welcome", "welcome-1", {"delivered": 1}, "event-2") is True
    assert store.count("welcome", "welcome-2", {"opened": 1, "opened_unique": 1}, "e-3") is True
    assert store.count("welcome", "welcome-2", {"opened": 1}, "e-4") is True
    assert made == {"PutItem": 5}
    assert store.counts("welcome") == {
        "welcome-1": {"delivered": 2},
        "welcome-2": {"opened": 2, "opened_unique": 1},
    }
    assert store.counts("other") == {}


def test_without_a_once_key_every_call_adds(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    store.count("p", "s", {"sent": 1}, None)
    store.count("p", "s", {"sent": 2, "skipped": 1}, None)
    store.count("p", "s", {"sent": 1}, "k")  # both kinds of item sum together
    assert store.counts("p") == {"s": {"sent": 4, "skipped": 1}}


def test_copies_racing_count_once(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    results: list[bool] = []
    start = threading.Barrier(8)

    def race() -> None:
        start.wait()
        results.append(store.count("p", "s", {"clicked": 1}, "the-click"))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert store.counts("p") == {"s": {"clicked": 1}}


def test_a_once_key_naming_a_contact_is_not_in_the_stored_key(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    store.count("p", "s", {"unsubscribed": 1}, "unsubscribed#contact-42#p#s")
    items = client.scan(TableName=STATE)["Items"]
    assert len(items) == 1
    assert "contact-42" not in str(items)


def ses_event(event_type: str, detail: dict[str, Any], message_id: str = "ses-1") -> dict[str, Any]:
    return {
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-01-05T09:00:00.000Z",
            "messageId": message_id,
            "destination": ["ada@example.com"],
            "tags": TAGS,
        },
        event_type.lower(): detail,
    }


def test_ses_events_redelivered_and_retried_after_a_failure_count_once(client: Any) -> None:
    store = DynamoDelivery(client, STATE, CONTACTS)
    recorder = EngagementRecorder(activities=InMemoryActivities(), store=store)
    opened = ses_event("Open", {"timestamp": "2026-01-05T10:00:00.000Z"})
    again = ses_event("Open", {"timestamp": "2026-01-05T11:00:00.000Z"})  # a second open
    clicked = ses_event("Click", {"timestamp": "2026-01-05T10:01:00.000Z", "link": "https://x/"})
    # the counter's write fails once after the activity was stored: SNS delivers again
    failures = iter([True])

    def fail_once(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("clicked") and next(failures, False):
            raise RuntimeError("the function died here")

    client.meta.events.register("before-parameter-build.dynamodb.PutItem", fail_once)
    for event in (opened, opened, again, clicked):
        try:
            recorder.handle(event)
        except RuntimeError:
            recorder.handle(event)  # the redelivery
    assert next(failures, None) is None  # the failure did happen
    recorder.handle(clicked)  # and SNS's own duplicate
    assert store.counts("welcome") == {
        "welcome-1": {"opened": 2, "opened_unique": 1, "clicked": 1, "clicked_unique": 1}
    }
