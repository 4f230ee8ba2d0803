"""DynamoDB adapter of the activity store (nurture.ports.ActivityStore): the ingest path.

Apart from nurture.adapters.dynamodb so the ingest function imports only what it uses (no
contact, account or program models at its cold start).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nurture import clock
from nurture.adapters.bulk import Backoff, get_all, insert_new
from nurture.tracking.events import Activity

MESSAGE_DEDUPE_DAYS = 35
# Sort key of an activity keyed by its message id. Time-keyed sort keys (ISO times, so digits)
# sort before it: a query newest first meets every message-keyed item first.
MESSAGE_KEY = "M#"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoActivities:
    """Activities in one partition per actor.

    What the ingest API stores (`put_many_new`) is keyed by its message id: `pk` the actor,
    `sk` `M#<message id>`, the whole activity in `doc` (its time included), nothing else -
    one item, one write unit for an event under 1 KB, and no index. Every copy of a message
    (a retry, the same event in another batch, re-sent with another timestamp after a clock
    correction) has the same key, so it can only ever be one item and one INSERT record in
    the table's stream, the only records react and the lake act on (their event source
    mappings filter `eventName: INSERT`). A batch is written in bulk calls with no
    transaction and no read first: PartiQL INSERTs in BatchExecuteStatement, 25 each. An
    INSERT fails on a key already stored (DuplicateItem): that copy is answered "duplicate"
    and nothing is written, so even two batches carrying one message at the same moment
    store it once. One event alone (`/v1/page` ...) is a PutItem on condition that the key
    is new. The key holds the actor:
    a message id sent again under another actor (Segment's SDKs re-send a message as it was
    serialised, ids included) is another actor's message.

    The key says nothing of time, so a reader (`list_for`) reads an actor's message-keyed
    items whole and orders them by their time (`Activity.sort_key`).

    What Nurture records itself (`put_new`: email engagement, program runs, forms) keeps the
    earlier shape: `sk` `<time>#<message id>`, and a marker item in the state table
    (`MSG#<message id>`, kept MESSAGE_DEDUPE_DAYS, holding the activity) put before it on
    condition that it is new, so a message id is stored once whatever its time or actor; what
    has its key fixed by the message itself (an SES event) is one conditional put (`put_once`). Activities the ingest API stored
    before the message-keyed shape are such time-keyed items with a marker; `list_for` reads
    both shapes. Until `legacy_markers_until` (35 days after an upgrade, when the last marker
    the old ingest path wrote expires), ingest also looks its message ids up among the
    markers, so a copy of a message stored the old way is still a duplicate.
    """

    def __init__(
        self,
        client: Any,
        table: str,
        state_table: str,
        backoff: Callable[[], Backoff] = Backoff,
        legacy_markers_until: datetime | None = None,
        now: Callable[[], datetime] | None = None,
    ):
        self._db = client
        self._table = table
        self._state_table = state_table
        self._backoff = backoff
        self._legacy_until = legacy_markers_until
        self._now = now

    # --- the ingest path: one message-keyed item per message ---------------------------------

    @staticmethod
    def message_key(actor: str, message_id: str) -> dict[str, Any]:
        return {"pk": {"S": actor}, "sk": {"S": MESSAGE_KEY + message_id}}

    def _item(self, activity: Activity) -> dict[str, Any]:
        return {
            "pk": {"S": activity.actor},
            "sk": {"S": MESSAGE_KEY + activity.message_id},
            # No nulls: an event under 1 KB stays one write unit.
            "doc": {"S": activity.model_dump_json(exclude_none=True)},
        }

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        if len(activities) == 1:  # one event per call (/v1/page ...): a conditional put
            return [self._put_one(activities[0])]
        if not activities:
            return []
        backoff = self._backoff()
        first: dict[tuple[str, str], int] = {}  # (actor, message id) -> its first copy here
        for index, activity in enumerate(activities):
            first.setdefault((activity.actor, activity.message_id), index)
        old = self._legacy_marked({message_id for _, message_id in first}, backoff)
        new = [i for key, i in first.items() if key[1] not in old]
        inserted = insert_new(
            self._db, self._table, [self._item(activities[i]) for i in new], backoff
        )
        stored = [False] * len(activities)
        for index, is_new in zip(new, inserted, strict=True):
            stored[index] = is_new
        return stored

    def _put_one(self, activity: Activity) -> bool:
        """`put_many_new` for one event: a put on condition that its key is new, so even two
        copies arriving at the same moment are one item and one INSERT."""
        if self._legacy_marked({activity.message_id}, None):
            return False
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._item(activity),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _legacy_marked(self, message_ids: set[str], backoff: Backoff | None) -> set[str]:
        """The message ids the old ingest path stored (a marker in the state table), while
        such markers can still exist."""
        if self._legacy_until is None or not message_ids:
            return set()
        now = self._now() if self._now else clock.now()
        if now >= self._legacy_until:
            return set()
        keys = [self._guard_key(m) for m in message_ids]
        markers = get_all(
            self._db, self._state_table, keys, backoff or self._backoff(), projection="pk"
        )
        return {m["pk"]["S"].removeprefix("MSG#") for m in markers}

    # --- what Nurture records itself: time-keyed, with a marker -----------------------------

    @staticmethod
    def _timed_item(activity: Activity, doc: str | None = None) -> dict[str, Any]:
        item = {
            "pk": _s(activity.actor),
            "sk": _s(activity.sort_key),
            "kind": _s(activity.kind),
            "name": _s(activity.name),
            "doc": _s(doc if doc is not None else activity.model_dump_json()),
        }
        if activity.contact_id:
            item["contact_id"] = _s(activity.contact_id)
        return item

    @staticmethod
    def _guard_key(message_id: str) -> dict[str, Any]:
        return {"pk": _s(f"MSG#{message_id}"), "sk": _s("MSG")}

    def _guard(self, activity: Activity) -> dict[str, Any]:
        expires = (
            int(activity.received_at and _epoch(activity.received_at)) + MESSAGE_DEDUPE_DAYS * 86400
        )
        return {**self._guard_key(activity.message_id), "expires_at": {"N": str(expires)}}

    def put_new(self, activity: Activity) -> bool:
        """Two puts, no transaction (2 write units; the transaction of the two cost 4): the
        marker, on condition that it is new and holding the activity's document, then the
        activity. A later copy of the message (a retry, whatever its time) finds the marker
        and puts the first copy's activity again from it - byte for byte the same item, a put
        that changes nothing, of which DynamoDB writes no stream record - so an activity lost
        between the two puts (a timeout, a crash) is stored by the next copy, and none is
        stored, or reacted to, twice."""
        item = self._timed_item(activity)
        try:
            self._db.put_item(
                TableName=self._state_table,
                Item={**self._guard(activity), "doc": item["doc"]},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            marker = self._db.get_item(
                TableName=self._state_table,
                Key=self._guard_key(activity.message_id),
                ConsistentRead=True,
            ).get("Item", {})
            if "doc" in marker:  # markers of the transactional put_new of before have none
                doc = marker["doc"]["S"]
                first = self._timed_item(Activity.model_validate_json(doc), doc)
                self._db.put_item(TableName=self._table, Item=first)
            return False
        self._db.put_item(TableName=self._table, Item=item)
        return True

    def put_once(self, activity: Activity) -> bool:
        """For an activity every copy of which has the same key (actor, time and message id
        all fixed by the message itself, e.g. an SES event's): one PutItem on condition that
        the key is new - 1 write unit, no marker. False when it was already stored."""
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._timed_item(activity),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self._db.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- reading ----------------------------------------------------------------------------

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        found: list[Activity] = []
        for actor in actors:
            found.extend(self._newest(actor, limit))
        found.sort(key=lambda a: a.sort_key, reverse=True)
        return found[:limit]

    def _newest(self, actor: str, limit: int) -> list[Activity]:
        """At least the actor's `limit` newest activities. Newest first by key, a query meets
        the message-keyed items first, all of which are read (their keys do not say when);
        then the time-keyed ones, newest first, of which `limit` are enough."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(actor)},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        found: list[Activity] = []
        timed = 0
        while True:
            response = self._db.query(**request)
            for item in response["Items"]:
                if "doc" not in item:
                    continue
                timed += not item["sk"]["S"].startswith(MESSAGE_KEY)
                found.append(Activity.model_validate_json(item["doc"]["S"]))
            last = response.get("LastEvaluatedKey")
            if not last or timed >= limit:
                return found
            request["ExclusiveStartKey"] = last


def page_before(
    client: Any, table: str, actors: list[str], before: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """A page of activity documents across `actors`, newest first by `Activity.sort_key`
    (`<occurred at>#<message id>`), each below `before` if given; and whether more remain.
    A timeline's paging: message-keyed items are read whole (their keys do not say when)
    and filtered by their time; time-keyed ones from `before` backwards, `limit` of them."""
    found: list[tuple[str, dict[str, Any]]] = []
    more = False
    for actor in actors:
        for item in _query_all(
            client,
            table,
            "pk = :pk AND begins_with(sk, :m)",
            {":pk": _s(actor), ":m": _s(MESSAGE_KEY)},
        ):
            doc = json.loads(item["doc"]["S"])
            key = f"{doc['occurred_at']}#{doc['message_id']}"
            if before is None or key < before:
                found.append((key, doc))
        bound = min(before, MESSAGE_KEY) if before else MESSAGE_KEY
        answer = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk < :b",
            ExpressionAttributeValues={":pk": _s(actor), ":b": _s(bound)},
            ScanIndexForward=False,
            Limit=limit,
        )
        more = more or "LastEvaluatedKey" in answer
        found.extend((i["sk"]["S"], json.loads(i["doc"]["S"])) for i in answer["Items"])
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [doc for _, doc in found[:limit]], more or len(found) > limit


def _query_all(
    client: Any, table: str, condition: str, values: dict[str, Any]
) -> list[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
    }
    items: list[dict[str, Any]] = []
    while True:
        answer = client.query(**request)
        items.extend(answer["Items"])
        if "LastEvaluatedKey" not in answer:
            return items
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _epoch(iso_ts: str) -> int:
    return int(datetime.fromisoformat(iso_ts.replace("Z", "+00:00")).timestamp())
