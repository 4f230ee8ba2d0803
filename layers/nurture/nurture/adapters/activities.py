"""DynamoDB adapter of the activity store (nurture.ports.ActivityStore): the ingest path.

Apart from nurture.adapters.dynamodb so the ingest function imports only what it uses (no
contact, account or program models at its cold start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from nurture.adapters.bulk import Backoff, get_all, put_all
from nurture.tracking.events import Activity

MESSAGE_DEDUPE_DAYS = 35


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoActivities:
    """Activities keyed by actor; a marker item in the state table (`MSG#<message id>`,
    kept MESSAGE_DEDUPE_DAYS) makes each message id stored once, whatever its time or actor.

    A batch (`put_many_new`, the ingest path) is written in bulk calls, with no transaction:
    one BatchGetItem of the markers finds the message ids already stored; the new ones' markers
    are put first, each holding its activity's document, then their activities. A marker is the
    claim on a message id: a later copy of the message (a retry, the same event in another
    batch, another timestamp or actor) finds it, is answered "duplicate", and puts the marker's
    activity again - byte for byte the item first written, a put that changes nothing, of which
    DynamoDB writes no stream record - so an activity lost between the two puts (a timeout, a
    crash) is stored by the next copy, and none is stored, or reacted to, twice. One event
    alone (`/v1/page` ...) puts its marker on condition that it is new, so even two copies
    arriving at the same moment are told apart; two batches carrying one message, written in
    the same few milliseconds, could both miss its marker (BatchWriteItem takes no condition).

    Each event costs two write units (marker and activity, each under 1 KB for an event under
    1 KB) and one read unit; no design with a single item per event can find a copy that
    arrives with another timestamp or actor (another key) without an index, which costs a
    write unit too.
    """

    def __init__(
        self, client: Any, table: str, state_table: str, backoff: Callable[[], Backoff] = Backoff
    ):
        self._db = client
        self._table = table
        self._state_table = state_table
        self._backoff = backoff

    def _item(self, activity: Activity, doc: str | None = None) -> dict[str, Any]:
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
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._state_table,
                            "Item": self._guard(activity),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": self._item(activity)}},
                ]
            )
            return True
        except self._db.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        if len(activities) == 1:  # one event per call (/v1/page ...): two PutItem calls
            return [self._put_one(activities[0])]
        backoff = self._backoff()
        first: dict[str, int] = {}  # message id -> index of its first copy in this batch
        for index, activity in enumerate(activities):
            first.setdefault(activity.message_id, index)
        keys = [self._guard_key(message_id) for message_id in first]
        markers = {m["pk"]["S"][4:]: m for m in get_all(self._db, self._state_table, keys, backoff)}
        new = [index for message_id, index in first.items() if message_id not in markers]
        items = {index: self._item(activities[index]) for index in new}
        put_all(
            self._db,
            [
                (self._state_table, {**self._guard(activities[i]), "doc": items[i]["doc"]})
                for i in new
            ],
            backoff,
        )
        # Markers put by `put_new` carry no document: its transaction stored the activity.
        again = [
            self._item(Activity.model_validate_json(m["doc"]["S"]), m["doc"]["S"])
            for m in markers.values()
            if "doc" in m
        ]
        put_all(
            self._db,
            [(self._table, items[i]) for i in new] + [(self._table, item) for item in again],
            backoff,
        )
        stored = [False] * len(activities)
        for index in new:
            stored[index] = True
        return stored

    def _put_one(self, activity: Activity) -> bool:
        """`put_many_new` for one event: the marker is put on condition that it is new (so
        even two copies arriving at once are told apart), then the activity."""
        item = self._item(activity)
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
            if "doc" in marker:  # the first copy's activity, again: a put that changes nothing
                doc = marker["doc"]["S"]
                self._db.put_item(
                    TableName=self._table, Item=self._item(Activity.model_validate_json(doc), doc)
                )
            return False
        self._db.put_item(TableName=self._table, Item=item)
        return True

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        found: list[Activity] = []
        for actor in actors:
            resp = self._db.query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": _s(actor)},
                ScanIndexForward=False,
                Limit=limit,
            )
            found.extend(Activity.model_validate_json(i["doc"]["S"]) for i in resp["Items"])
        found.sort(key=lambda a: a.sort_key, reverse=True)
        return found[:limit]


def _epoch(iso_ts: str) -> int:
    return int(datetime.fromisoformat(iso_ts.replace("Z", "+00:00")).timestamp())
