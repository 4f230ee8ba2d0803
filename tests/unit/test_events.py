"""Parsing Segment-shaped events and ingesting them into an activity store (in memory)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from nurture import clock
from nurture.tracking.calls import (
    MAX_BATCH_EVENTS,
    MAX_EVENT_BYTES,
    IdentifyEvent,
    PageEvent,
    TrackEvent,
    describe_errors,
    parse_event,
    to_activity,
)
from nurture.tracking.ingest import ingest_events

if TYPE_CHECKING:
    from localcloud.fakes import InMemoryActivities

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(autouse=True)
def fixed_clock() -> Any:
    clock.set_clock(FixedClock())
    yield
    clock.set_clock(clock.SystemClock())


def track(**over: Any) -> dict[str, Any]:
    return {"type": "track", "anonymousId": "v1", "event": "guide_downloaded", **over}


def errors_of(raw: Any, default_type: str | None = None) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_event(raw, default_type)
    return describe_errors(caught.value)


# --- parse_event ------------------------------------------------------------------------------


def test_a_track_is_parsed_with_wire_names() -> None:
    event = parse_event(
        track(
            messageId="m1",
            userId="u1",
            properties={"guide": "x"},
            timestamp="2026-01-04T10:00:00+02:00",
        )
    )
    assert isinstance(event, TrackEvent)
    assert (event.message_id, event.anonymous_id, event.user_id) == ("m1", "v1", "u1")
    assert event.properties == {"guide": "x"}
    assert event.timestamp == datetime(2026, 1, 4, 8, 0, tzinfo=UTC)


def test_identify_and_page_are_recognised_by_type() -> None:
    assert isinstance(
        parse_event({"type": "identify", "userId": "u1", "traits": {}}), IdentifyEvent
    )
    assert isinstance(parse_event({"type": "page", "anonymousId": "v"}), PageEvent)


def test_the_endpoint_supplies_the_type_when_the_event_has_none() -> None:
    assert isinstance(parse_event({"anonymousId": "v", "name": "Home"}, "page"), PageEvent)
    # but an explicit type wins
    assert isinstance(parse_event(track(), "page"), TrackEvent)


def test_unknown_fields_are_ignored() -> None:
    event = parse_event(track(integrations={"All": True}, sentAt="2026-01-05T09:00:00Z"))
    assert isinstance(event, TrackEvent)


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ({"type": "track", "anonymousId": "v"}, "event", "Field required"),
        (track(event=""), "event", "at least 1 character"),
        (track(event="e" * 201), "event", "at most 200 characters"),
        (
            {"type": "track", "event": "x"},
            "anonymousId",
            "either anonymousId or userId is required",
        ),
        (track(anonymousId=""), "anonymousId", "at least 1 character"),
        (track(timestamp="not a time"), "timestamp", "valid datetime"),
        (track(timestamp="2026-01-05T09:00:00"), "timestamp", "must include a time zone"),
        (track(messageId=7), "messageId", "valid string"),
        (track(properties="x"), "properties", "valid dictionary"),
        ({"type": "alias", "anonymousId": "v"}, "previousId", "Field required"),
        ({"type": "group", "userId": "u"}, "groupId", "Field required"),
        ({"type": "fax", "anonymousId": "v"}, "type", "does not match"),
        ({"anonymousId": "v", "event": "x"}, "type", "Unable to extract tag"),
    ],
)
def test_a_malformed_event_names_the_field_and_the_reason(
    raw: dict[str, Any], field: str, reason: str
) -> None:
    errors = errors_of(raw)
    assert field in [e["field"] for e in errors]
    assert reason in next(e["reason"] for e in errors if e["field"] == field)


def test_every_bad_field_is_reported_at_once() -> None:
    fields = {
        e["field"]
        for e in errors_of({"type": "track", "anonymousId": "v", "event": "", "timestamp": "x"})
    }
    assert fields == {"event", "timestamp"}


def test_reasons_do_not_carry_pydantic_prefixes() -> None:
    for error in errors_of(track(timestamp="2026-01-05T09:00:00")):
        assert not error["reason"].startswith("Value error")


def test_an_event_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="JSON object"):
        parse_event(["track"])


def test_an_event_over_32_kb_is_refused_and_one_at_the_limit_is_not() -> None:
    def sized(size: int) -> dict[str, Any]:
        raw = track(properties={"pad": ""})
        raw["properties"]["pad"] = "x" * (size - len(json.dumps(raw, separators=(",", ":"))))
        return raw

    assert isinstance(parse_event(sized(MAX_EVENT_BYTES)), TrackEvent)
    with pytest.raises(ValueError, match="32 KB"):
        parse_event(sized(MAX_EVENT_BYTES + 1))


def test_the_size_limit_counts_utf8_bytes_not_escapes() -> None:
    # 10,000 'é' are 20,000 bytes in UTF-8, but 60,000 characters as \u00e9 escapes
    assert isinstance(parse_event(track(properties={"text": "é" * 10_000})), TrackEvent)


# --- to_activity ------------------------------------------------------------------------------


def test_a_track_becomes_an_activity_of_its_actor() -> None:
    raw = track(
        messageId="m1",
        timestamp="2026-01-04T10:00:00+02:00",
        properties={"a": 1},
        context={"page": {"url": "https://example.com/x", "userAgent": "UA"}, "ip": "192.0.2.1"},
    )
    activity = to_activity(parse_event(raw), raw)
    assert activity.actor == "anon:v1"
    assert (activity.kind, activity.name, activity.message_id) == (
        "track",
        "guide_downloaded",
        "m1",
    )
    assert activity.occurred_at == "2026-01-04T08:00:00.000Z"
    assert activity.received_at == "2026-01-05T09:00:00.000Z"
    assert activity.properties == {"a": 1}
    # only what marketing uses of the page; no IP address or user agent is kept
    assert activity.page == {"url": "https://example.com/x"}
    assert "192.0.2.1" not in activity.model_dump_json()


def test_a_user_id_is_the_actor_when_present() -> None:
    raw = track(userId="u1")
    assert to_activity(parse_event(raw), raw).actor == "user:u1"


def test_without_a_timestamp_the_event_happened_when_received() -> None:
    raw = track()
    assert to_activity(parse_event(raw), raw).occurred_at == "2026-01-05T09:00:00.000Z"


def test_a_page_keeps_utm_and_tolerates_an_odd_context() -> None:
    raw = {
        "type": "page",
        "anonymousId": "v",
        "name": "Pricing",
        "properties": {"url": "https://example.com/p", "path": 5},
        "context": {"campaign": {"source": "news", "medium": "email", "other": "x"}},
    }
    activity = to_activity(parse_event(raw), raw)
    assert (activity.kind, activity.name) == ("page", "Pricing")
    assert activity.page == {
        "url": "https://example.com/p",
        "utm": {"source": "news", "medium": "email"},
    }
    odd = track(context={"page": "home", "campaign": "spring"})
    assert to_activity(parse_event(odd), odd).page == {}


# --- ingest_events ----------------------------------------------------------------------------


def test_valid_events_are_accepted_and_stored(memory_store: InMemoryActivities) -> None:
    results = ingest_events(
        [track(messageId="m1"), track(messageId="m2", type="page", name="Home")], memory_store
    )
    assert [(r.message_id, r.status, r.errors) for r in results] == [
        ("m1", "accepted", []),
        ("m2", "accepted", []),
    ]
    assert {a.name for a in memory_store.items.values()} == {"guide_downloaded", "Home"}


def test_a_message_id_seen_before_is_a_duplicate_and_not_stored_again(
    memory_store: InMemoryActivities,
) -> None:
    ingest_events([track(messageId="m1")], memory_store)
    again = ingest_events(
        [track(messageId="m1", event="something_else"), track(messageId="m1")], memory_store
    )
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert [a.name for a in memory_store.items.values()] == ["guide_downloaded"]


def test_a_batch_repeating_an_event_stores_it_once(memory_store: InMemoryActivities) -> None:
    results = ingest_events([track(messageId="m1"), track(messageId="m1")], memory_store)
    assert [r.status for r in results] == ["accepted", "duplicate"]
    assert list(memory_store.items) == ["m1"]


def test_a_rejected_event_stores_nothing_and_its_neighbours_are_stored(
    memory_store: InMemoryActivities,
) -> None:
    results = ingest_events(
        [
            track(messageId="ok-1"),
            {"type": "track", "anonymousId": "v", "messageId": "bad"},
            "not an object",
            track(messageId="ok-2"),
        ],
        memory_store,
    )
    assert [(r.index, r.message_id, r.status) for r in results] == [
        (0, "ok-1", "accepted"),
        (1, "bad", "rejected"),
        (2, None, "rejected"),
        (3, "ok-2", "accepted"),
    ]
    assert results[1].errors == [{"field": "event", "reason": "Field required"}]
    assert results[2].errors == [{"field": "(event)", "reason": "event must be a JSON object"}]
    assert sorted(memory_store.items) == ["ok-1", "ok-2"]


def test_a_non_string_message_id_is_rejected_not_a_crash(memory_store: InMemoryActivities) -> None:
    [result] = ingest_events([track(messageId={"id": 1})], memory_store)
    assert (result.status, result.message_id) == ("rejected", None)
    assert [e["field"] for e in result.errors] == ["messageId"]
    assert memory_store.items == {}


def test_without_message_id_an_identical_retry_is_a_duplicate(
    memory_store: InMemoryActivities,
) -> None:
    [first] = ingest_events(
        [{"anonymousId": "v", "event": "x"}], memory_store, default_type="track"
    )
    [retry] = ingest_events(
        [{"anonymousId": "v", "event": "x"}], memory_store, default_type="track"
    )
    [other] = ingest_events(
        [{"anonymousId": "v", "event": "y"}], memory_store, default_type="track"
    )
    assert first.status == "accepted" and first.message_id
    assert (retry.status, retry.message_id) == ("duplicate", first.message_id)
    assert other.status == "accepted" and other.message_id != first.message_id


def test_results_serialise_with_wire_names(memory_store: InMemoryActivities) -> None:
    [result] = ingest_events([track(messageId="m1")], memory_store)
    assert result.model_dump(by_alias=True, exclude_none=True) == {
        "index": 0,
        "messageId": "m1",
        "status": "accepted",
        "errors": [],
    }


def test_too_many_events_in_one_batch_is_refused_before_storing_any(
    memory_store: InMemoryActivities,
) -> None:
    batch = [track(messageId=f"m{i}") for i in range(MAX_BATCH_EVENTS + 1)]
    with pytest.raises(ValueError, match=str(MAX_BATCH_EVENTS)):
        ingest_events(batch, memory_store)
    assert memory_store.items == {}
    assert len(ingest_events(batch[:MAX_BATCH_EVENTS], memory_store)) == MAX_BATCH_EVENTS
