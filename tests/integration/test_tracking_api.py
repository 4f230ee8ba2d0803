"""The Segment-compatible tracking API: dedupe by messageId, per-event validation, size
limits and write keys, checked against what lands in DynamoDB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

TRACK = {
    "anonymousId": "visitor-1",
    "event": "guide_downloaded",
    "properties": {"guide": "getting-started"},
    "timestamp": "2026-01-05T08:59:00Z",
}


def results(body: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(r.get("messageId"), r["status"]) for r in body["results"]]


# --- duplicates -----------------------------------------------------------------------------


def test_the_same_message_id_is_stored_once_across_track_and_batch(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given an event was accepted
    status, _, body = cloud.http("POST", "/v1/track", {**TRACK, "messageId": "msg-1"})
    assert status == 200
    assert results(body) == [("msg-1", "accepted")]

    # When an SDK retries it on /v1/track, and again inside a batch
    status_retry, _, retry = cloud.http("POST", "/v1/track", {**TRACK, "messageId": "msg-1"})
    status_batch, _, batch = cloud.http(
        "POST", "/v1/batch", {"batch": [{**TRACK, "type": "track", "messageId": "msg-1"}]}
    )

    # Then both answers say "duplicate" (still a success for the SDK) ...
    assert status_retry == 200
    assert results(retry) == [("msg-1", "duplicate")]
    assert status_batch == 200
    assert results(batch) == [("msg-1", "duplicate")]
    assert retry["success"] is batch["success"] is True
    # ... and the activities table holds the event once
    stored = tables.activities("anon:visitor-1")
    assert [(a.message_id, a.name) for a in stored] == [("msg-1", "guide_downloaded")]
    assert len(tables.activity_items()) == 1
    assert cloud.errors == []


def test_a_duplicate_with_a_different_timestamp_is_still_stored_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given an event was accepted
    cloud.http("POST", "/v1/track", {**TRACK, "messageId": "msg-2"})

    # When the same messageId arrives with another timestamp (another sort key)
    status, _, body = cloud.http(
        "POST", "/v1/track", {**TRACK, "messageId": "msg-2", "timestamp": "2026-01-05T08:59:30Z"}
    )

    # Then it is a duplicate and nothing new is stored
    assert status == 200
    assert results(body) == [("msg-2", "duplicate")]
    assert len(tables.activity_items()) == 1
    assert tables.activities()[0].occurred_at == "2026-01-05T08:59:00.000Z"


def test_a_batch_holding_the_same_message_twice_stores_it_once(
    cloud: LocalCloud, tables: Tables
) -> None:
    # When one batch carries the same event twice, next to a different one
    event = {**TRACK, "type": "track", "messageId": "msg-3"}
    other = {**TRACK, "type": "page", "name": "Pricing", "messageId": "msg-4"}
    status, _, body = cloud.http("POST", "/v1/batch", {"batch": [event, event, other]})

    # Then the second copy is reported as a duplicate and each event is stored once
    assert status == 200
    assert results(body) == [("msg-3", "accepted"), ("msg-3", "duplicate"), ("msg-4", "accepted")]
    assert sorted(a.message_id for a in tables.activities()) == ["msg-3", "msg-4"]


def test_an_identical_call_without_message_id_is_deduplicated(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given a hand-made call without a messageId was accepted
    status, _, first = cloud.http("POST", "/v1/track", TRACK)
    assert status == 200
    [(message_id, outcome)] = results(first)
    assert outcome == "accepted" and message_id

    # When exactly the same call is retried
    _, _, second = cloud.http("POST", "/v1/track", TRACK)

    # Then it gets the same derived id, and is a duplicate
    assert results(second) == [(message_id, "duplicate")]
    assert len(tables.activity_items()) == 1


# --- malformed events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field", "reason"),
    [
        ({k: v for k, v in TRACK.items() if k != "event"}, "event", "required"),
        ({**TRACK, "event": ""}, "event", "at least 1 character"),
        (
            {k: v for k, v in TRACK.items() if k != "anonymousId"},
            "anonymousId",
            "anonymousId or userId",
        ),
        ({**TRACK, "timestamp": "yesterday"}, "timestamp", "datetime"),
        ({**TRACK, "timestamp": "2026-01-05T08:59:00"}, "timestamp", "time zone"),
        ({**TRACK, "messageId": 12345}, "messageId", "string"),
        ({**TRACK, "properties": ["not", "an", "object"]}, "properties", "dictionary"),
        ({**TRACK, "context": "not an object"}, "context", "dictionary"),
    ],
    ids=[
        "no-event",
        "empty-event",
        "no-identity",
        "bad-timestamp",
        "naive-timestamp",
        "numeric-message-id",
        "properties-not-object",
        "context-not-object",
    ],
)
def test_a_malformed_track_is_rejected_by_field_and_not_stored(
    cloud: LocalCloud, tables: Tables, event: dict[str, Any], field: str, reason: str
) -> None:
    # When a malformed event is posted
    status, _, body = cloud.http("POST", "/v1/track", event)

    # Then it is rejected, naming the field and the reason
    assert status == 400
    assert body["success"] is False
    [result] = body["results"]
    assert result["status"] == "rejected"
    assert field in [e["field"] for e in result["errors"]], result
    reasons = " ".join(e["reason"] for e in result["errors"] if e["field"] == field)
    assert reason in reasons
    # and nothing is stored
    assert tables.activity_items() == []
    assert cloud.errors == []


def test_in_a_batch_the_good_event_is_stored_and_the_bad_one_is_not(
    cloud: LocalCloud, tables: Tables
) -> None:
    # When a batch holds one good event and two bad ones
    good = {**TRACK, "type": "track", "messageId": "good-1"}
    no_event = {"type": "track", "anonymousId": "visitor-1", "messageId": "bad-1"}
    unknown_type = {"type": "fax", "anonymousId": "visitor-1", "messageId": "bad-2"}
    status, _, body = cloud.http("POST", "/v1/batch", {"batch": [good, no_event, unknown_type]})

    # Then the answer is a 200 (an SDK re-sends a batch answered with anything else, the
    # stored event included), saying per event what happened
    assert status == 200
    assert body["success"] is False
    assert results(body) == [("good-1", "accepted"), ("bad-1", "rejected"), ("bad-2", "rejected")]
    assert body["results"][1]["errors"] == [{"field": "event", "reason": "Field required"}]
    assert [e["field"] for e in body["results"][2]["errors"]] == ["type"]
    # and only the good event is stored
    assert [a.message_id for a in tables.activities()] == ["good-1"]
    assert cloud.errors == []


def test_batch_context_is_shared_by_its_events(cloud: LocalCloud, tables: Tables) -> None:
    # When a batch carries a shared page context and one event overrides it
    shared = {"page": {"url": "https://example.com/pricing", "title": "Pricing"}}
    own = {"page": {"url": "https://example.com/blog"}}
    batch = [
        {"type": "page", "anonymousId": "v", "messageId": "p-1", "name": "Pricing"},
        {"type": "page", "anonymousId": "v", "messageId": "p-2", "name": "Blog", "context": own},
    ]
    status, _, _ = cloud.http("POST", "/v1/batch", {"batch": batch, "context": shared})

    # Then each stored page view keeps its own url
    assert status == 200
    pages = {a.message_id: a.page.get("url") for a in tables.activities("anon:v")}
    assert pages == {"p-1": "https://example.com/pricing", "p-2": "https://example.com/blog"}


@pytest.mark.parametrize("path", ["/v1/track", "/v1/identify", "/v1/page", "/v1/batch"])
@pytest.mark.parametrize(
    "body", ['{"event": ', "not json at all", b"\xff\xfe"], ids=["cut", "text", "binary"]
)
def test_a_body_that_is_not_json_is_a_400(
    cloud: LocalCloud, tables: Tables, path: str, body: str
) -> None:
    # When the body is not JSON
    status, _, answer = cloud.http("POST", path, body, headers={"content-type": "application/json"})

    # Then the request is refused and nothing is stored
    assert status == 400
    assert "not valid JSON" in answer["message"]
    assert tables.activity_items() == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/track", "[]"),
        ("/v1/track", '"a string"'),
        ("/v1/batch", "{}"),
        ("/v1/batch", '{"batch": {}}'),
    ],
)
def test_json_of_the_wrong_shape_is_a_400(
    cloud: LocalCloud, tables: Tables, path: str, body: str
) -> None:
    status, _, _ = cloud.http("POST", path, body, headers={"content-type": "application/json"})
    assert status == 400
    assert tables.activity_items() == []


# --- size limits ----------------------------------------------------------------------------


def _sized(event: dict[str, Any], size: int) -> dict[str, Any]:
    """The event padded so its JSON is `size` bytes."""
    padded = {**event, "properties": {"pad": ""}}
    padded["properties"]["pad"] = "x" * (size - len(json.dumps(padded)))
    assert len(json.dumps(padded)) == size
    return padded


def test_a_track_body_over_32_kb_is_a_413(cloud: LocalCloud, tables: Tables) -> None:
    # Given a 32 KB event is accepted
    status, _, _ = cloud.http(
        "POST", "/v1/track", _sized({**TRACK, "messageId": "fits"}, 32 * 1024)
    )
    assert status == 200

    # When a body one byte over 32 KB is posted
    status, _, body = cloud.http(
        "POST", "/v1/track", _sized({**TRACK, "messageId": "big"}, 32 * 1024 + 1)
    )

    # Then it is refused as too large and not stored
    assert status == 413
    assert "32 KB" in body["message"]
    assert [a.message_id for a in tables.activities()] == ["fits"]


def test_a_batch_body_over_500_kb_is_a_413_but_a_40_kb_batch_is_fine(
    cloud: LocalCloud, tables: Tables
) -> None:
    event = {**TRACK, "type": "track"}
    # When a 40 KB batch (over the per-call limit, well under the batch limit) is posted
    small = [_sized({**event, "messageId": f"s-{i}"}, 20 * 1024) for i in range(2)]
    status, _, _ = cloud.http("POST", "/v1/batch", {"batch": small})
    # Then it is accepted
    assert status == 200
    assert len(tables.activity_items()) == 2

    # When a batch over 500 KB is posted
    large = [_sized({**event, "messageId": f"l-{i}"}, 30 * 1024) for i in range(17)]
    assert len(json.dumps({"batch": large})) > 500 * 1024
    status, _, body = cloud.http("POST", "/v1/batch", {"batch": large})

    # Then it is refused as too large and none of it is stored
    assert status == 413
    assert "500 KB" in body["message"]
    assert sorted(a.message_id for a in tables.activities()) == ["s-0", "s-1"]


def test_more_than_2500_events_in_a_batch_is_a_400(cloud: LocalCloud, tables: Tables) -> None:
    batch = [
        {"type": "track", "event": "e", "anonymousId": "v", "messageId": f"m{i}"}
        for i in range(2501)
    ]
    status, _, body = cloud.http("POST", "/v1/batch", {"batch": batch})
    assert status == 400
    assert "2500" in body["message"]
    assert tables.activity_items() == []


# --- write keys -----------------------------------------------------------------------------

CALLS = [
    ("/v1/track", TRACK),
    ("/v1/identify", {"anonymousId": "visitor-1", "traits": {"email": "ada@example.com"}}),
    ("/v1/page", {"anonymousId": "visitor-1", "name": "Home"}),
    ("/v1/batch", {"batch": [{**TRACK, "type": "track"}]}),
    ("/v1/forms/newsletter-signup", {"email": "ada@example.com"}),
]


@pytest.mark.parametrize(("path", "body"), CALLS, ids=[c[0].rsplit("/", 1)[-1] for c in CALLS])
def test_a_wrong_or_missing_write_key_is_a_401_and_stores_nothing(
    live: LocalCloud, tables: Tables, path: str, body: dict[str, Any]
) -> None:
    # When the call comes with an unknown write key, or none
    wrong, _, wrong_body = live.http("POST", path, body, write_key="nope")
    missing, _, _ = live.http("POST", path, body, write_key=None)
    in_body_wrong, _, _ = live.http("POST", path, {**body, "writeKey": "nope"}, write_key=None)

    # Then it is unauthorised, and nothing is stored, no contact made, no email sent
    assert (wrong, missing, in_body_wrong) == (401, 401, 401)
    assert "write key" in wrong_body["message"]
    assert tables.activity_items() == []
    assert tables.contact_items() == []
    assert live.outbox == []

    # But the same call with the right key goes through (so the 401 was about the key)
    status, _, _ = live.http("POST", path, body)
    assert status in (200, 202)
    assert len(tables.visitor_activities()) == 1


def test_the_write_key_may_come_in_the_query_string(cloud: LocalCloud, tables: Tables) -> None:
    status, _, _ = cloud.http("POST", "/v1/track?writeKey=local-write-key", TRACK, write_key=None)
    assert status == 200
    assert len(tables.activity_items()) == 1
