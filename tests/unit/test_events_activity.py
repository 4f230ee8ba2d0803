"""What is stored of each call type, field by field: the activity of a track, identify,
page, screen, group and alias; the page context kept (and the PII dropped); the times and
stamps a request gives; and where each refusal points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from nurture import clock
from nurture.tracking.calls import (
    Receipt,
    describe_errors,
    parse_event,
    timed_activity,
    to_activity,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BASE = {"anonymousId": "v1", "messageId": "m-1", "timestamp": "2026-01-05T08:00:00Z"}
RECEIPT = Receipt(received_at=NOW)


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(autouse=True)
def fixed_clock() -> Any:
    clock.set_clock(FixedClock())
    yield
    clock.set_clock(clock.SystemClock())


def stored(raw: dict[str, Any], receipt: Receipt = RECEIPT) -> dict[str, Any]:
    event = parse_event({**BASE, **raw})
    return to_activity(event, raw, receipt).model_dump()


COMMON = {
    "actor": "anon:v1",
    "message_id": "m-1",
    "occurred_at": "2026-01-05T08:00:00.000Z",
    "received_at": "2026-01-05T09:00:00.000Z",
    "anonymous_id": "v1",
    "user_id": None,
    "contact_id": None,
    "trust": "public",
}


def test_a_track() -> None:
    raw = {
        "type": "track",
        "event": "Order Completed",
        "properties": {"total": 20},
        "context": {"page": {"url": "https://x.example/buy", "title": "Buy"}, "ip": "1.2.3.4"},
    }
    assert stored(raw) == {
        **COMMON,
        "kind": "track",
        "name": "Order Completed",
        "properties": {"total": 20},
        "traits": {},
        "page": {"url": "https://x.example/buy", "title": "Buy"},
    }


def test_an_identify_keeps_traits_from_both_places_and_traits_win() -> None:
    raw = {
        "type": "identify",
        "userId": "u-1",
        "traits": {"plan": "pro"},
        "context": {"traits": {"plan": "free", "first_name": "Ada"}},
    }
    assert stored(raw) == {
        **COMMON,
        "actor": "user:u-1",
        "user_id": "u-1",
        "kind": "identify",
        "name": "identify",
        "properties": {},
        "traits": {"plan": "pro", "first_name": "Ada"},
        "page": {},
    }


def test_a_group_and_an_alias() -> None:
    group = stored({"type": "group", "groupId": "g-1", "traits": {"name": "Acme"}})
    assert group == {
        **COMMON,
        "kind": "group",
        "name": "group",
        "properties": {"group_id": "g-1"},
        "traits": {"name": "Acme"},
        "page": {},
    }
    alias = stored({"type": "alias", "previousId": "v0", "userId": "u-1"})
    assert alias == {
        **COMMON,
        "actor": "user:u-1",
        "user_id": "u-1",
        "kind": "alias",
        "name": "alias",
        "properties": {"previous_id": "v0"},
        "traits": {},
        "page": {},
    }


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ({"type": "page", "name": "Pricing", "category": "Docs"}, "Pricing"),
        ({"type": "page", "category": "Docs"}, "Docs"),
        ({"type": "page"}, "page"),
        ({"type": "screen", "name": "Home"}, "Home"),
        ({"type": "screen"}, "screen"),
    ],
)
def test_a_page_or_screen_is_named_by_name_then_category_then_its_type(
    call: dict[str, Any], name: str
) -> None:
    activity = stored({**call, "properties": {"path": "/p"}})
    assert (activity["kind"], activity["name"]) == (call["type"], name)
    assert activity["properties"] == {"path": "/p"}
    assert activity["page"] == {"path": "/p"}


def test_the_page_context_keeps_what_marketing_uses_and_nothing_else() -> None:
    raw = {
        "type": "page",
        "properties": {"url": "https://x.example/a?b=1", "search": "?b=1", "path": 7},
        "context": {
            "page": {
                "url": "https://old.example/",
                "path": "/a",
                "title": "A",
                "referrer": "https://r.example/",
                "userAgent": "Mozilla",
            },
            "campaign": {"name": "spring", "source": "news", "medium": 3, "gclid": "secret"},
            "ip": "1.2.3.4",
        },
    }
    assert stored(raw)["page"] == {
        "url": "https://x.example/a?b=1",  # the call's own properties win
        # a value that is not text is dropped (here the call's path, which replaced "/a")
        "title": "A",
        "referrer": "https://r.example/",
        "search": "?b=1",
        "utm": {"name": "spring", "source": "news", "medium": "3"},
    }


def test_a_campaign_that_is_not_an_object_is_left_out() -> None:
    raw = {"type": "page", "context": {"campaign": "spring", "page": "not a dict"}}
    assert stored(raw)["page"] == {}


def test_a_track_reads_only_the_page_context_not_its_properties() -> None:
    raw = {"type": "track", "event": "x", "properties": {"url": "https://x.example/"}}
    assert stored(raw)["page"] == {}


def test_the_request_stamp_is_on_every_activity() -> None:
    receipt = Receipt(received_at=NOW, stamp={"trust": "secret"})
    assert stored({"type": "track", "event": "x"}, receipt)["trust"] == "secret"


def test_times_a_batch_gives_and_the_note_of_a_clamped_clock() -> None:
    # no timestamp: the event happened when received, corrected by the batch's sentAt skew
    raw = {
        "type": "track",
        "event": "x",
        "anonymousId": "v1",
        "originalTimestamp": "2026-01-05T09:30:00Z",
    }
    receipt = Receipt(received_at=NOW, sent_at=NOW + timedelta(minutes=30))
    activity, note = timed_activity(parse_event(raw), raw, receipt)
    assert activity.occurred_at == "2026-01-05T09:00:00.000Z"
    assert note is None
    ahead = {
        "type": "track",
        "event": "x",
        "anonymousId": "v1",
        "timestamp": "2026-03-01T00:00:00Z",
    }
    activity, note = timed_activity(parse_event(ahead), ahead, RECEIPT)
    assert activity.occurred_at == "2026-01-05T09:00:00.000Z"
    assert note is not None and "future" in note


def test_without_a_message_id_the_id_is_derived_from_the_content_in_any_key_order() -> None:
    one = {"type": "track", "event": "x", "anonymousId": "v1", "properties": {"a": 1, "b": 2}}
    two = {"properties": {"b": 2, "a": 1}, "anonymousId": "v1", "event": "x", "type": "track"}
    first = to_activity(parse_event(one), one, RECEIPT).message_id
    assert first == to_activity(parse_event(two), two, RECEIPT).message_id
    other = {**one, "event": "y"}
    assert first != to_activity(parse_event(other), other, RECEIPT).message_id


# --- where a refusal points -----------------------------------------------------------
def _errors(raw: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        parse_event(raw)
    return describe_errors(caught.value)


def test_refusals_name_the_wire_field() -> None:
    assert _errors({"type": "track", "event": "x"}) == [
        {"field": "anonymousId", "reason": "either anonymousId or userId is required"}
    ]
    assert _errors({"type": "nope", "anonymousId": "v"})[0]["field"] == "type"
    assert _errors({"anonymousId": "v"})[0]["field"] == "type"
    assert _errors({"type": "track", "anonymousId": "v", "event": ""}) == [
        {"field": "event", "reason": "String should have at least 1 character"}
    ]
    bad_email = _errors({"type": "identify", "userId": "u", "traits": {"email": 5}})
    assert bad_email == [{"field": "traits.email", "reason": "must be a string"}]
    in_context = _errors({"type": "identify", "userId": "u", "context": {"traits": {"phone": 5}}})
    assert in_context == [{"field": "context.traits.phone", "reason": "must be a string"}]


# --- edges the mutation run found untested ----------------------------------------------
def test_utm_term_and_content_are_kept() -> None:
    raw = {"type": "page", "context": {"campaign": {"term": "shoes", "content": "banner"}}}
    assert stored(raw)["page"] == {"utm": {"term": "shoes", "content": "banner"}}


def test_context_traits_that_are_not_an_object_are_ignored() -> None:
    raw = {"type": "identify", "userId": "u", "traits": {"plan": "pro"}, "context": {"traits": "x"}}
    assert stored(raw)["traits"] == {"plan": "pro"}


def test_an_identify_email_must_be_an_address() -> None:
    problems = _errors({"type": "identify", "userId": "u", "traits": {"email": "a@@b"}})
    assert problems[0]["field"] == "traits.email"
    assert problems[0]["reason"].startswith("is not a valid email address: ")


def test_a_national_phone_is_read_in_the_sites_country() -> None:
    raw = {"type": "identify", "userId": "u", "traits": {"phone": "040 1234567"}}
    event = parse_event(raw, country="358")
    assert to_activity(event, raw, RECEIPT).traits["phone"] == "+358401234567"


def test_an_event_from_before_the_site_existed_is_refused() -> None:
    from nurture.tracking.timestamps import TimestampError

    raw = {"type": "track", "event": "x", "anonymousId": "v1", "timestamp": "2020-01-01T00:00:00Z"}
    receipt = Receipt(received_at=NOW, site_start=datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(TimestampError):
        to_activity(parse_event(raw), raw, receipt)


def test_a_valid_identify_email_is_accepted() -> None:
    event = parse_event({"type": "identify", "userId": "u", "traits": {"email": "ada@example.com"}})
    assert event.traits == {"email": "ada@example.com"}  # type: ignore[union-attr]


def test_original_timestamp_and_sent_at_correct_the_senders_clock() -> None:
    # the device said 09:10 when it made the call and 09:30 when it sent it; we got it at 09:00
    raw = {
        "type": "track",
        "event": "x",
        "anonymousId": "v1",
        "originalTimestamp": "2026-01-05T09:10:00Z",
        "sentAt": "2026-01-05T09:30:00Z",
    }
    activity = to_activity(parse_event(raw), raw, RECEIPT)
    assert activity.occurred_at == "2026-01-05T08:40:00.000Z"
