"""What Nurture records itself (DynamoActivities.put_new and put_once: email engagement,
program runs, forms) against DynamoDB on the local cloud: no transaction, and each message
stored once and reacted to once (one INSERT in the table's stream) under copies with
another time, a crash between the two puts, and copies racing each other."""

from __future__ import annotations

import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from nurture.tracking.events import Activity
from tests.integration.test_activity_writes import Calls, store, stream_inserts

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration


def recorded(message_id: str, second: int = 0) -> Activity:
    at = f"2026-01-05T09:00:{second:02d}.000Z"
    return Activity(
        actor="contact:c-1",
        contact_id="c-1",
        message_id=message_id,
        kind="email",
        name="email.sent",
        occurred_at=at,
        received_at=at,
        properties={"program_id": "welcome", "step_id": "welcome-1"},
    )


def stored(tables: Tables) -> Counter[str]:
    return Counter(a.message_id for a in tables.activities())


def test_put_new_stores_a_message_once_whatever_its_time_without_a_transaction(
    cloud: LocalCloud, tables: Tables
) -> None:
    calls = Calls(cloud.client("dynamodb"))
    activities = store(tables, cloud.client("dynamodb"))
    assert activities.put_new(recorded("m1", 0)) is True
    assert activities.put_new(recorded("m1", 30)) is False  # a retry, dated on arrival
    assert activities.put_new(recorded("m2", 5)) is True
    assert "TransactWriteItems" not in calls.seen
    assert stored(tables) == Counter({"m1": 1, "m2": 1})
    assert [a.occurred_at for a in tables.activities() if a.message_id == "m1"] == [
        "2026-01-05T09:00:00.000Z"  # the first copy's
    ]
    assert stream_inserts(cloud, tables) == Counter({"m1": 1, "m2": 1})


def test_an_activity_lost_after_its_marker_is_stored_by_the_next_copy(
    cloud: LocalCloud, tables: Tables
) -> None:
    ddb = cloud.client("dynamodb")
    table = tables._table("ActivitiesTable")
    crashes = iter([True])

    def crash_once(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == table and next(crashes, False):
            raise TimeoutError("the function timed out between the two puts")

    ddb.meta.events.register("before-parameter-build.dynamodb.PutItem", crash_once)
    activities = store(tables, ddb)
    with pytest.raises(TimeoutError):
        activities.put_new(recorded("m1", 0))
    assert stored(tables) == Counter()  # the marker only
    assert activities.put_new(recorded("m1", 20)) is False  # the retry: a duplicate...
    assert stored(tables) == Counter({"m1": 1})  # ...that stored the first copy's activity
    assert tables.activities()[0].occurred_at == "2026-01-05T09:00:00.000Z"
    assert activities.put_new(recorded("m1", 40)) is False
    assert stream_inserts(cloud, tables) == Counter({"m1": 1})  # the re-put changed nothing


def test_copies_racing_store_one_activity_and_one_insert(cloud: LocalCloud, tables: Tables) -> None:
    activities = store(tables)
    results: list[bool] = []
    start = threading.Barrier(6)

    def race(second: int) -> None:
        start.wait()
        results.append(activities.put_new(recorded("m1", second)))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    assert stored(tables) == Counter({"m1": 1})
    assert stream_inserts(cloud, tables) == Counter({"m1": 1})


def test_put_once_is_one_conditional_put(cloud: LocalCloud, tables: Tables) -> None:
    ddb = cloud.client("dynamodb")
    calls = Calls(ddb)
    activities = store(tables, ddb)
    assert activities.put_once(recorded("ses-open-1", 3)) is True
    assert activities.put_once(recorded("ses-open-1", 3)) is False  # SNS delivered it again
    assert calls.seen == Counter({"PutItem": 2})
    assert stored(tables) == Counter({"ses-open-1": 1})
    assert stream_inserts(cloud, tables) == Counter({"ses-open-1": 1})


def test_a_message_stored_by_the_transactional_put_new_of_before_stays_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    """Its marker carries no document (the transaction stored the activity with it)."""
    ddb = cloud.client("dynamodb")
    activities = store(tables, ddb)
    first = recorded("m-old", 0)
    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": tables._table("StateTable"),
                    "Item": activities._guard(first),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": tables._table("ActivitiesTable"),
                    "Item": activities._timed_item(first),
                }
            },
        ]
    )
    assert activities.put_new(recorded("m-old", 30)) is False
    assert stored(tables) == Counter({"m-old": 1})
    assert stream_inserts(cloud, tables) == Counter({"m-old": 1})
