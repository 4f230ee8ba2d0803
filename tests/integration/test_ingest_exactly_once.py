"""Stored once, reacted to once, through the whole local cloud: the ingest API writes each
message as one item keyed by its message id; copies of it (re-sent with another timestamp,
or racing in two batches that both read before either wrote) are the same key, and the
react and lake functions hear the activities table's stream through event source mappings
that pass INSERT records only (template.yaml FilterCriteria)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from nurture.tracking.events import Activity

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

EVENT = {
    "type": "track",
    "anonymousId": "visitor-9",
    "event": "guide_downloaded",
    "properties": {"guide": "getting-started"},
}


def heard(cloud: LocalCloud, function: str) -> Counter[str]:
    """Message id -> stream records the function was handed, from now on."""
    fn = cloud.function_by_name(function)
    seen: Counter[str] = Counter()
    real = fn.handler

    def listening(event: dict[str, Any], context: Any) -> Any:
        for record in event.get("Records", []):
            doc = record["dynamodb"].get("NewImage", {}).get("doc", {}).get("S")
            if doc:
                seen[Activity.model_validate_json(doc).message_id] += 1
        return real(event, context)

    fn.handler = listening
    return seen


def stream_records(cloud: LocalCloud, tables: Tables) -> Counter[str]:
    """'<eventName> <message id>' -> records in the activities table's stream."""
    ddb = cloud.client("dynamodb")
    arn = ddb.describe_table(TableName=tables._table("ActivitiesTable"))["Table"]["LatestStreamArn"]
    found: Counter[str] = Counter()
    for shard in cloud.stream_shards(arn):
        for record in cloud.stream_records(arn, shard, None, 1000):
            doc = record["dynamodb"]["NewImage"]["doc"]["S"]
            found[f"{record['eventName']} {Activity.model_validate_json(doc).message_id}"] += 1
    return found


def post(cloud: LocalCloud, *events: dict[str, Any]) -> list[str]:
    status, _, body = cloud.http("POST", "/v1/batch", {"batch": list(events)})
    assert status == 200, body
    return [r["status"] for r in body["results"]]


def test_copies_of_a_message_are_stored_and_reacted_to_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    react, lake = heard(cloud, "ReactFunction"), heard(cloud, "LakeFunction")
    first = {**EVENT, "messageId": "m-1", "timestamp": "2026-01-05T08:59:00Z"}
    other = {**EVENT, "messageId": "m-2", "timestamp": "2026-01-05T08:59:10Z"}
    assert post(cloud, first, other) == ["accepted", "accepted"]
    cloud.run_until_idle()

    # An SDK re-sends m-1 with its timestamp corrected by the server clock: a duplicate.
    resent = {**first, "timestamp": "2026-01-05T08:59:30Z"}
    assert post(cloud, resent, {**EVENT, "messageId": "m-3"}) == ["duplicate", "accepted"]

    # Sent again with yet another time: still one item, one INSERT. (The write is an INSERT
    # conditional on the key being new, so no read comes first that two batches could race.)
    again = {**resent, "timestamp": "2026-01-05T09:00:00Z"}
    assert post(cloud, again, {**EVENT, "messageId": "m-3"}) == ["duplicate", "duplicate"]
    cloud.run_until_idle()

    assert Counter(a.message_id for a in tables.activities()) == Counter(
        {"m-1": 1, "m-2": 1, "m-3": 1}
    )
    assert react == lake == Counter({"m-1": 1, "m-2": 1, "m-3": 1})
    # the duplicates wrote nothing: no MODIFY either
    assert stream_records(cloud, tables) == Counter(
        {"INSERT m-1": 1, "INSERT m-2": 1, "INSERT m-3": 1}
    )
    assert cloud.errors == []


def test_one_event_per_call_racing_with_itself_is_one_insert(
    cloud: LocalCloud, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    react = heard(cloud, "ReactFunction")
    single = {**EVENT, "messageId": "solo", "timestamp": "2026-01-05T08:59:00Z"}
    for at in ("2026-01-05T08:59:00Z", "2026-01-05T08:59:40Z"):
        status, _, body = cloud.http("POST", "/v1/track", {**single, "timestamp": at})
        assert status == 200
    assert [r["status"] for r in body["results"]] == ["duplicate"]
    cloud.run_until_idle()
    assert [a.occurred_at for a in tables.activities()] == ["2026-01-05T08:59:00.000Z"]
    assert react == Counter({"solo": 1})
