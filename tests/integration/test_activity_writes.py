"""The ingest write path (DynamoActivities.put_many_new) against DynamoDB on the local cloud:
bulk calls, no transaction, and each message stored once and reacted to once - under
duplicates, retries, overlapping or racing batches and throttling.

"Reacted to once" is read from the table's stream, which the react and lake functions
consume: one INSERT record per message, whatever copies of it arrived."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from nurture.adapters.activities import page_before
from nurture.adapters.bulk import Backoff, StatementFailed, Unprocessed
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
    """A DynamoDB client whose BatchExecuteStatement answers some INSERTs with a throttling
    error, as a throttled table does: the first `unprocessed` statements it is sent (or every
    statement, with `all_fail`) come back with ProvisionedThroughputExceeded, unwritten."""

    def __init__(self, client: Any, unprocessed: int = 0, all_fail: bool = False):
        self._client, self.unprocessed, self.all_fail = client, unprocessed, all_fail
        self.exceptions = client.exceptions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_execute_statement(self, Statements: list[Any]) -> dict[str, Any]:  # noqa: N803
        throttled = {"Error": {"Code": "ProvisionedThroughputExceeded", "Message": "slow down"}}
        answers: list[dict[str, Any] | None] = []
        send = []
        for statement in Statements:
            if self.unprocessed > 0 or self.all_fail:
                self.unprocessed -= 1
                answers.append(throttled)
            else:
                answers.append(None)
                send.append(statement)
        done = iter(
            self._client.batch_execute_statement(Statements=send)["Responses"] if send else []
        )
        return {"Responses": [a if a is not None else next(done) for a in answers]}


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


def store(
    tables: Tables, client: Any = None, waits: list[float] | None = None, **options: Any
) -> DynamoActivities:
    waited = waits if waits is not None else []
    return DynamoActivities(
        client or tables.cloud.client("dynamodb"),
        tables._table("ActivitiesTable"),
        tables._table("StateTable"),
        backoff=lambda: Backoff(sleep=waited.append),
        **options,
    )


def stored(tables: Tables) -> Counter[str]:
    return Counter(a.message_id for a in tables.activities())


def test_a_put_that_changes_nothing_writes_no_stream_record(
    cloud: LocalCloud, tables: Tables
) -> None:
    ddb = cloud.client("dynamodb")
    table = tables._table("ActivitiesTable")
    item = store(tables)._item(activity("m1"))
    ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item=item)  # the same item: AWS writes no record
    changed = {**item, "doc": {"S": activity("m1", 30).model_dump_json()}}
    ddb.put_item(TableName=table, Item=changed)
    assert stream_inserts(cloud, tables) == Counter({"m1": 1, "MODIFY m1": 1})


def test_an_activity_is_one_item_keyed_by_its_message_id(cloud: LocalCloud, tables: Tables) -> None:
    assert store(tables).put_many_new([activity("m1", 4), activity("m2", 2)]) == [True, True]
    items = tables.activity_items()
    assert sorted((i["pk"]["S"], i["sk"]["S"], sorted(i)) for i in items) == [
        ("anon:v1", "M#m1", ["doc", "pk", "sk"]),
        ("anon:v1", "M#m2", ["doc", "pk", "sk"]),
    ]
    assert not [i for i in tables._scan("StateTable") if i["pk"]["S"].startswith("MSG#")]


def test_a_batch_is_written_in_bulk_calls_without_a_transaction(
    cloud: LocalCloud, tables: Tables
) -> None:
    client = cloud.client("dynamodb")
    calls = Calls(client)
    batch = [activity(f"m{n}", n % 60) for n in range(60)]
    assert store(tables, client).put_many_new(batch) == [True] * 60
    # no read first; 60 activities, 25 INSERTs a call; no marker
    assert calls.seen == Counter({"BatchExecuteStatement": 3})
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(60)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(60)})


def test_the_same_batch_twice_is_stored_and_heard_once(cloud: LocalCloud, tables: Tables) -> None:
    batch = [activity("a", 1), activity("b", 2), activity("c", 3)]
    writes = store(tables)
    assert writes.put_many_new(batch) == [True, True, True]
    # the retry arrives later: received again, its times corrected differently
    retry = [
        a.model_copy(update={"received_at": "2026-01-05T09:01:00.000Z", "occurred_at": t})
        for a, t in zip(batch, ("2026-01-05T09:00:41.000Z",) * 3, strict=True)
    ]
    assert writes.put_many_new(retry) == [False, False, False]
    assert stored(tables) == Counter({"a": 1, "b": 1, "c": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "b": 1, "c": 1})
    assert [a.occurred_at for a in tables.activities()] == [
        f"2026-01-05T09:00:0{n}.000Z" for n in (1, 2, 3)
    ]


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
    later = activity("a", 20, extra="resent")
    flags = store(tables).put_many_new([activity("a"), later, activity("b")])
    assert flags == [True, False, True]
    assert stored(tables) == Counter({"a": 1, "b": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "b": 1})
    assert [a.properties for a in tables.activities() if a.message_id == "a"] == [
        {"path": "/pricing"}
    ]


@pytest.mark.parametrize("size", [1, 3], ids=["one event per call", "a batch"])
def test_a_message_id_again_with_another_time_is_a_duplicate(
    cloud: LocalCloud, tables: Tables, size: int
) -> None:
    writes = store(tables)
    others = [activity(f"x{n}") for n in range(size - 1)]
    assert writes.put_many_new([activity("m", 5), *others]) == [True] * size
    later = activity("m", 35, extra="changed")
    assert writes.put_many_new([later, *others]) == [False] * size
    [kept] = [a for a in tables.activities() if a.message_id == "m"]
    assert (kept.actor, kept.occurred_at, kept.properties) == (
        "anon:v1",
        "2026-01-05T09:00:05.000Z",
        {"path": "/pricing"},
    )
    assert stream_inserts(cloud, tables) == Counter(
        {"m": 1, **{f"x{n}": 1 for n in range(size - 1)}}
    )
    # The key holds the actor: the same id sent by another visitor is that visitor's message.
    assert writes.put_many_new([activity("m", 5, actor="anon:v2"), *others]) == [True] + [False] * (
        size - 1
    )
    assert sorted(a.actor for a in tables.activities() if a.message_id == "m") == [
        "anon:v1",
        "anon:v2",
    ]


def test_two_batches_racing_with_one_message_store_and_react_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # The race a read-then-write design loses: both batches carry "a" at the same moment.
    # An INSERT is conditional on the key being new, so exactly one of them stores it.
    batches = [[activity("a", 1), activity(f"own{n}", 2)] for n in range(2)]
    with ThreadPoolExecutor(2) as pool:
        flags = list(pool.map(lambda b: store(tables).put_many_new(b), batches))
    assert sorted(f[0] for f in flags) == [False, True]
    assert [f[1] for f in flags] == [True, True]
    assert stored(tables) == Counter({"a": 1, "own0": 1, "own1": 1})
    assert stream_inserts(cloud, tables) == Counter({"a": 1, "own0": 1, "own1": 1})


def test_values_travel_as_parameters_never_as_statement_text(
    cloud: LocalCloud, tables: Tables
) -> None:
    # A message id and properties that would break out of a PartiQL string literal.
    sly = "x'}, 'sk': 'M#other'} --"
    batch = [activity(sly, 1, note="it's \"quoted\" '}"), activity("plain", 2)]
    assert store(tables).put_many_new(batch) == [True, True]
    assert {i["sk"]["S"] for i in tables.activity_items()} == {"M#" + sly, "M#plain"}
    [kept] = [a for a in tables.activities() if a.message_id == sly]
    assert kept.properties["note"] == "it's \"quoted\" '}"


def test_a_statement_refused_for_good_fails_the_request(cloud: LocalCloud, tables: Tables) -> None:
    # Not a duplicate, not throttling (here: no such table): the caller answers 5xx.
    lost = DynamoActivities(cloud.client("dynamodb"), "no-such-table", tables._table("StateTable"))
    with pytest.raises(StatementFailed, match="ResourceNotFound"):
        lost.put_many_new([activity("a"), activity("b")])


def test_one_event_per_call_is_a_conditional_put(cloud: LocalCloud, tables: Tables) -> None:
    client = cloud.client("dynamodb")
    calls = Calls(client)
    writes = store(tables, client)
    assert writes.put_many_new([activity("solo", 7)]) == [True]
    assert writes.put_many_new([activity("solo", 9)]) == [False]
    assert calls.seen == Counter({"PutItem": 2})
    assert [a.occurred_at for a in tables.activities()] == ["2026-01-05T09:00:07.000Z"]
    assert stream_inserts(cloud, tables) == Counter({"solo": 1})


def test_unprocessed_writes_are_sent_again_with_backoff(cloud: LocalCloud, tables: Tables) -> None:
    waits: list[float] = []
    client = Throttled(cloud.client("dynamodb"), unprocessed=30)
    batch = [activity(f"m{n}", n) for n in range(40)]
    assert store(tables, client, waits).put_many_new(batch) == [True] * 40
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(40)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(40)})
    assert len(waits) >= 2 and all(0 <= w <= 1.0 for w in waits)


class WritesThenThrottled(Throttled):
    """Lets the first `allowed` INSERTs through, then throttles every statement (a partition
    that stays throttled past the waiting budget)."""

    def __init__(self, client: Any, allowed: int):
        super().__init__(client)
        self.allowed = allowed

    def batch_execute_statement(self, Statements: list[Any]) -> dict[str, Any]:  # noqa: N803
        self.all_fail = self.allowed <= 0
        self.allowed -= len(Statements)
        return super().batch_execute_statement(Statements=Statements)


def test_a_partly_written_batch_retried_stores_each_once(cloud: LocalCloud, tables: Tables) -> None:
    # The first 25 puts are written, the rest handed back until the waiting budget runs out:
    # the request fails (5xx) and the sender sends the whole batch again, later.
    waits: list[float] = []
    batch = [activity(f"m{n}", n % 60) for n in range(60)]
    throttled = WritesThenThrottled(cloud.client("dynamodb"), allowed=25)
    with pytest.raises(Unprocessed):
        store(tables, throttled, waits).put_many_new(batch)
    assert 3.0 < sum(waits) <= 4.0
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(25)})
    retry = [a.model_copy(update={"received_at": "2026-01-05T09:02:00.000Z"}) for a in batch]
    assert store(tables).put_many_new(retry) == [False] * 25 + [True] * 35
    assert stored(tables) == Counter({f"m{n}": 1 for n in range(60)})
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(60)})
    # a third copy changes nothing and is heard by nobody
    assert store(tables).put_many_new(retry) == [False] * 60
    assert stream_inserts(cloud, tables) == Counter({f"m{n}": 1 for n in range(60)})


def test_readers_order_both_key_shapes_by_time(cloud: LocalCloud, tables: Tables) -> None:
    writes = store(tables)
    # stored the old way (time-keyed with a marker, as `put_new` still stores) and the new
    for n in (1, 4, 7, 10):
        assert writes.put_new(activity(f"old{n}", n))
    assert writes.put_many_new([activity(f"new{n}", n) for n in (2, 3, 8, 9, 11)]) == [True] * 5
    newest = [a.message_id for a in writes.list_for(["anon:v1", "anon:nobody"], 4)]
    assert newest == ["new11", "old10", "new9", "new8"]
    everything = writes.list_for(["anon:v1"], 100)
    assert [a.occurred_at for a in everything] == sorted(
        (a.occurred_at for a in everything), reverse=True
    )
    assert len(everything) == 9
    # more message-keyed items than one page holds: all read, then the newest kept
    assert writes.put_many_new([activity(f"p{n}", 12 + n) for n in range(30)]) == [True] * 30
    assert [a.message_id for a in writes.list_for(["anon:v1"], 3)] == ["p29", "p28", "p27"]


def test_a_copy_of_a_message_stored_the_old_way_is_a_duplicate_until_its_marker_expires(
    cloud: LocalCloud, tables: Tables
) -> None:
    before = store(tables)
    assert before.put_new(activity("old", 1))  # the old ingest path: a marker and the item
    now = [datetime(2026, 1, 6, tzinfo=UTC)]
    upgraded = store(
        tables, legacy_markers_until=datetime(2026, 2, 10, tzinfo=UTC), now=lambda: now[0]
    )
    assert upgraded.put_many_new([activity("old", 30), activity("fresh", 2)]) == [False, True]
    assert upgraded.put_many_new([activity("old", 31)]) == [False]
    assert stored(tables) == Counter({"old": 1, "fresh": 1})
    now[0] = datetime(2026, 2, 10, tzinfo=UTC)  # every marker the old path wrote has expired
    assert upgraded.put_many_new([activity("old2", 3)]) == [True]


def test_a_timeline_pages_through_both_key_shapes_in_time_order(
    cloud: LocalCloud, tables: Tables
) -> None:
    writes = store(tables)
    for n in (1, 4, 7, 10):
        assert writes.put_new(activity(f"old{n}", n))
    assert writes.put_many_new([activity(f"new{n}", n) for n in (2, 3, 8, 9, 11)]) == [True] * 5
    assert writes.put_new(activity("elsewhere", 5, actor="anon:v2"))
    client, table = cloud.client("dynamodb"), tables._table("ActivitiesTable")
    pages: list[list[str]] = []
    before: str | None = None
    while True:
        docs, more = page_before(client, table, ["anon:v1", "anon:v2"], before, 3)
        pages.append([d["message_id"] for d in docs])
        if not more:
            break
        before = f"{docs[-1]['occurred_at']}#{docs[-1]['message_id']}"
    assert pages == [
        ["new11", "old10", "new9"],
        ["new8", "old7", "elsewhere"],
        ["old4", "new3", "new2"],
        ["old1"],
    ]
