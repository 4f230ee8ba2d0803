"""The ingest write path (DynamoActivities.put_many_new) against DynamoDB on the local cloud:
bulk calls, no transaction, and each message stored once and reacted to once - under
duplicates, retries, overlapping batches and throttling (UnprocessedItems).

"Reacted to once" is read from the table's stream, which the react and lake functions
consume: one INSERT record per message, whatever copies of it arrived."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from nurture.adapters.bulk import Backoff, Unprocessed
from nurture.adapters.dynamodb import DynamoActivities
from nurture.tracking.events import Activity

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration


def activity(message_id: str, second: int = 0, actor: str = "anon:v1", **extra: Any) -> Activity:
    at = f"2026-01-05T09:00:{second:02d}.000Z"
    return Activity(
        actor=actor,
        message_id=message_id,
        kind="page",
        name="Pricing",
        occurred_at=at,
        received_at=at,
        anonymous_id=actor.removeprefix("anon:"),
        properties={"path": "/pricing", **extra},
    )


class Calls:
    """Counts the DynamoDB operations a client makes (botocore's before-call event)."""

    def __init__(self, client: Any):
        self.seen: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.seen[model.name] += 1


class Throttled:
    """A DynamoDB client whose BatchWriteItem leaves some writes unprocessed, as a throttled
    table does: the first `unprocessed` writes it is sent (or every activity put, with
    `activities_fail`) come back in UnprocessedItems."""

    def __init__(self, client: Any, unprocessed: int = 0, activities_fail: bool = False):
        self._client, self.unprocessed, self.activities_fail = client, unprocessed, activities_fail
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        send: dict[str, list[Any]] = {}
        back: dict[str, list[Any]] = {}
        for table, writes in RequestItems.items():
            for write in writes:
                marker = write["PutRequest"]["Item"]["pk"]["S"].startswith("MSG#")
                if self.unprocessed > 0 or (self.activities_fail and not marker):
                    self.unprocessed -= 1
                    back.setdefault(table, []).append(write)
                else:
                    send.setdefault(table, []).append(write)
        if send:
            self._client.batch_write_item(RequestItems=send)
        return {"UnprocessedItems": back}


def stream_inserts(cloud: LocalCloud, tables: Tables) -> Counter[str]:
    """Message id -> INSERT records in the activities table's stream (what react hears)."""
    ddb = cloud.client("dynamodb")
    arn = ddb.describe_table(TableName=tables._table("ActivitiesTable"))["Table"]["LatestStreamArn"]
    found: Counter[str] = Counter()
    for shard in cloud.stream_shards(arn):
        records = cloud.stream_records(arn, shard, None, 1000)
        for record in records:
            doc = record["dynamodb"].get("NewImage", {}).get("doc", {}).get("S")
            if doc and record["eventName"] == "INSERT":
                found[Activity.model_validate_json(doc).message_id] += 1
            elif doc:
                found[f"{record['eventName']} {Activity.model_validate_json(doc).message_id}"] += 1
    return found


def store(tables: Tables, client: Any = None, waits: list[float] | None = None) -> DynamoActivities:
    waited = waits if waits is not None else []
    return DynamoActivities(
        client or tables.cloud.client("dynamodb"),
        tables._table("ActivitiesTable"),
        tables._table("StateTable"),
        backoff=lambda: Backoff(sleep=waited.append),
    )


def stored(tables: Tables) -> Counter[str]:
    return Counter(a.message_id for a in tables.activities())


def test_a_put_that_changes_nothing_writes_no_stream_record(
    cloud: LocalCloud, tables: Tables
) -> None:
    ddb = cloud.client("dynamodb")
    table = tables._table("ActivitiesTable")
    item = DynamoActivities(ddb, table, tables._table("StateTable"))._item(activity("m1"))
    ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item=item)  # the same item: AWS writes no record
    changed = {**item, "name": {"S": "Pricing page"}}
    ddb.put_item(TableName=table, Item=changed)
    assert stream_inserts(cloud, tables) == Counter({"m1": 1, "MODIFY m1": 1})


def test_a_batch_is_written_in_bulk_calls_without_a_transaction(
    cloud: LocalCloud, tables: Tables
) -> None:
    client = cloud.client("dynamodb")
    calls = Calls(client)
    batch = [activity(f"m{n}", n % 60) for n in range(60)]
    assert store(tables, client).put_many_new(batch) == [True] * 60
    # one read of the 60 markers; 60 markers and 60 activities, 25 writes a call
    assert calls.seen == Counter({"BatchGetItem": 1, "BatchWriteItem": 6})
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(60)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(60)})


def test_the_same_batch_twice_is_stored_and_heard_once(cloud: LocalCloud, tables: Tables) -> None:
    batch = [activity("a", 1), activity("b", 2), activity("c", 3)]
    writes = store(tables)
    assert writes.put_many_new(batch) == [True, True, True]
    # the retry arrives later: received again, its times corrected differently
    retry = [a.model_copy(update={"received_at": "2026-01-05T09:01:00.000Z"}) for a in batch]
    assert writes.put_many_new(retry) == [False, False, False]
    assert stored(tables) == Counter({"a": 1, "b": 1, "c": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "b": 1, "c": 1})
    assert {a.received_at for a in tables.activities()} == {"2026-01-05T09:00:01.000Z"} | {
        "2026-01-05T09:00:02.000Z",
        "2026-01-05T09:00:03.000Z",
    }


def test_overlapping_batches_store_each_message_once(cloud: LocalCloud, tables: Tables) -> None:
    writes = store(tables)
    assert writes.put_many_new([activity("a"), activity("b"), activity("c")]) == [True] * 3
    assert writes.put_many_new([activity("b"), activity("c"), activity("d")]) == [
        False,
        False,
        True,
    ]
    assert stored(tables) == Counter({"a": 1, "b": 1, "c": 1, "d": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "b": 1, "c": 1, "d": 1})


def test_the_same_event_twice_in_one_batch_is_stored_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    flags = store(tables).put_many_new([activity("a"), activity("a"), activity("b")])
    assert flags == [True, False, True]
    assert stored(tables) == Counter({"a": 1, "b": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "b": 1})


@pytest.mark.parametrize("size", [1, 3], ids=["one event per call", "a batch"])
def test_a_message_id_again_with_another_time_or_actor_is_a_duplicate(
    cloud: LocalCloud, tables: Tables, size: int
) -> None:
    writes = store(tables)
    others = [activity(f"x{n}") for n in range(size - 1)]
    assert writes.put_many_new([activity("m", 5), *others]) == [True] * size
    later = activity("m", 35, extra="changed")
    other_actor = activity("m", 5, actor="user:u1")
    assert writes.put_many_new([later, *others]) == [False] * size
    assert writes.put_many_new([other_actor, *others]) == [False] * size
    [kept] = [a for a in tables.activities() if a.message_id == "m"]
    assert (kept.actor, kept.occurred_at, kept.properties) == (
        "anon:v1",
        "2026-01-05T09:00:05.000Z",
        {"path": "/pricing"},
    )
    assert stream_inserts(cloud, tables) == Counter(
        {"m": 1, **{f"x{n}": 1 for n in range(size - 1)}}
    )


def test_unprocessed_writes_are_sent_again_with_backoff(cloud: LocalCloud, tables: Tables) -> None:
    waits: list[float] = []
    client = Throttled(cloud.client("dynamodb"), unprocessed=30)
    batch = [activity(f"m{n}", n) for n in range(20)]
    assert store(tables, client, waits).put_many_new(batch) == [True] * 20
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(20)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(20)})
    assert len(waits) >= 2 and all(0 <= w <= 1.0 for w in waits)


def test_throttling_past_the_budget_fails_the_call_and_the_retry_stores_each_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Every activity put is throttled until the waiting budget runs out: the markers were
    # put, the activities not - the request fails (the sender will retry) ...
    waits: list[float] = []
    throttled = Throttled(cloud.client("dynamodb"), activities_fail=True)
    batch = [activity(f"m{n}", n) for n in range(5)]
    with pytest.raises(Unprocessed):
        store(tables, throttled, waits).put_many_new(batch)
    assert 3.0 < sum(waits) <= 4.0
    assert stored(tables) == Counter()

    # ... and the sender's retry finds the markers: "duplicate", and the activities the
    # markers hold are stored now, once each, each heard once.
    retry = [a.model_copy(update={"received_at": "2026-01-05T09:02:00.000Z"}) for a in batch]
    assert store(tables).put_many_new(retry) == [False] * 5
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(5)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(5)})
    assert {a.received_at for a in tables.activities()} == {
        f"2026-01-05T09:00:{n:02d}.000Z" for n in range(5)
    }
    # a third copy changes nothing and is heard by nobody
    assert store(tables).put_many_new(retry) == [False] * 5
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(5)})


def test_one_event_lost_between_its_two_puts_is_stored_by_the_retry(
    cloud: LocalCloud, tables: Tables
) -> None:
    client = cloud.client("dynamodb")
    writes = store(tables, client)
    first = activity("solo", 7)
    real_put = client.put_item

    def marker_only(**kwargs: Any) -> Any:
        if kwargs["TableName"] == tables._table("ActivitiesTable"):
            raise TimeoutError("the function timed out between the two puts")
        return real_put(**kwargs)

    client.put_item = marker_only
    with pytest.raises(TimeoutError):
        writes.put_many_new([first])
    client.put_item = real_put
    assert stored(tables) == Counter()
    assert writes.put_many_new([activity("solo", 9)]) == [False]
    assert [a.occurred_at for a in tables.activities()] == ["2026-01-05T09:00:07.000Z"]
    assert stream_inserts(cloud, tables) == Counter({"solo": 1})
