"""The budget every value a client sends must fit, with the spec's own numbers: DynamoDB's
32 levels of nesting and its numbers (38 significant digits, 1E-130 to below 1E+126),
Python's 4,300-digit int limit, UTC's years 1-9999, and valid Unicode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from localcloud.fakes import InMemoryActivities
from nurture.tracking.body import BadBody, parse_form, parse_json
from nurture.tracking.calls import Receipt, parse_event
from nurture.tracking.ingest import ingest_events
from nurture.tracking.timestamps import TimestampError, event_time, in_utc
from nurture.tracking.values import ValueProblem, check_value

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def problem(field: str, value: Any) -> tuple[str, str]:
    with pytest.raises(ValueProblem) as raised:
        check_value(field, value)
    return raised.value.field, raised.value.reason


# --- nesting -----------------------------------------------------------------------------


def test_32_levels_are_accepted_and_the_33rd_is_refused_by_path() -> None:
    check_value("properties", nested(32))
    assert problem("properties", nested(33)) == (
        "properties" + ".a" * 32,
        "is nested more than 32 levels deep",
    )
    # lists count as levels too, and the path names their index
    check_value("properties", {"l": json.loads("[" * 31 + "]" * 31)})
    field, reason = problem("properties", {"l": [json.loads("[" * 31 + "]" * 31)]})
    assert field.startswith("properties.l.0.0.0")
    assert reason == "is nested more than 32 levels deep"


def test_a_scalar_counts_as_a_level_as_dynamodb_counts_it() -> None:
    # DynamoDB stores a string 31 maps deep (32 levels) and refuses it 32 maps deep
    leaf_31: dict[str, Any] = {"leaf": "x"}
    for _ in range(30):
        leaf_31 = {"a": leaf_31}
    check_value("properties", leaf_31)
    assert problem("properties", {"a": leaf_31}) == (
        "properties" + ".a" * 31 + ".leaf",
        "is nested more than 32 levels deep",
    )


def test_the_issues_220_levels_are_refused() -> None:
    assert problem("traits", nested(220))[1] == "is nested more than 32 levels deep"


# --- numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [0, -0.0, 10**38 - 1, -(10**38) + 1, 10**125, 1.5e125, 1e-130, -2.5, 12345678901234567890],
)
def test_numbers_a_dynamodb_number_holds_are_accepted(number: float) -> None:
    check_value("n", number)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (10**38 + 1, "more than 38 significant digits"),
        (int("1" * 39), "more than 38 significant digits"),
        (10**126, "out of range"),
        (-(10**200), "out of range"),
        (float("inf"), "not a finite number"),
        (float("-inf"), "not a finite number"),
        (float("nan"), "not a finite number"),
        (1e126, "out of range"),
        (9e-131, "out of range"),
    ],
)
def test_numbers_no_reader_can_hold_are_refused(number: float, reason: str) -> None:
    assert reason in problem("properties", {"revenue": number})[1]
    assert problem("properties", {"revenue": number})[0] == "properties.revenue"


def test_booleans_are_not_numbers() -> None:
    check_value("p", {"yes": True, "no": False})


# --- strings and dates -------------------------------------------------------------------


def test_a_lone_surrogate_is_refused_in_a_value_and_in_a_key() -> None:
    assert problem("traits", {"name": "Ada\ud800"}) == (
        "traits.name",
        "holds a lone UTF-16 surrogate (not valid Unicode)",
    )
    field, reason = problem("traits", {"k\udc00": 1})
    assert field == "traits.k?"
    assert reason.startswith("has a key that holds a lone UTF-16 surrogate")
    check_value("traits", {"name": "Ada 😀 Lovelace", "city": "Zürich"})  # a valid pair


@pytest.mark.parametrize(
    "text",
    ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "0001-01-01T00:00:00+00:01"],
)
def test_a_date_that_does_not_exist_in_utc_is_refused(text: str) -> None:
    assert problem("traits", {"birthday": text}) == (
        "traits.birthday",
        "is a date-time that does not exist in UTC (out of range)",
    )


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59+00:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59+23:59",  # earlier in UTC
        "0001-01-01T00:00:00-23:59",  # later in UTC
        "9999-12-31",
        "2026-13-45 is not a date",
        "1234-56-78",
    ],
)
def test_dates_at_the_edges_and_text_that_only_looks_like_one_are_fine(text: str) -> None:
    check_value("traits", {"x": text})


def test_in_utc_names_the_range() -> None:
    with pytest.raises(ValueError, match=r"out of range once converted to UTC \(years 1-9999\)"):
        in_utc(datetime.fromisoformat("9999-12-31T23:59:59-23:59"))
    assert in_utc(datetime.fromisoformat("2026-01-05T10:00:00+01:00")) == datetime(
        2026, 1, 5, 9, tzinfo=UTC
    )


def test_a_device_clock_thousands_of_years_off_is_refused_not_an_overflow() -> None:
    with pytest.raises(TimestampError) as raised:
        event_time(
            timestamp=None,
            original_timestamp=datetime(1, 1, 2, tzinfo=UTC),
            sent_at=datetime(9999, 12, 30, tzinfo=UTC),
            received_at=RECEIVED,
        )
    assert raised.value.field == "sentAt"
    assert "too far from originalTimestamp" in raised.value.reason
    # a skew of a few hours is still corrected
    corrected = event_time(
        timestamp=RECEIVED - timedelta(hours=5),
        original_timestamp=None,
        sent_at=RECEIVED - timedelta(hours=3),
        received_at=RECEIVED,
    )
    assert corrected.occurred_at == RECEIVED - timedelta(hours=2)


# --- events ------------------------------------------------------------------------------


def _track(**extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed", "anonymousId": "a", **extra}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (_track(properties=nested(33)), "properties" + ".a" * 32),
        (_track(properties={"n": float("inf")}), "properties.n"),
        (_track(timestamp="9999-12-31T23:59:59-23:59"), "timestamp"),
        (_track(context={"page": {"title": "\udfff"}}), "context.page.title"),
        (_track(event="x\ud800"), "event"),
    ],
)
def test_an_event_outside_the_budget_is_rejected_by_field_and_stores_nothing(
    event: dict[str, Any], field: str
) -> None:
    store = InMemoryActivities()
    [result] = ingest_events([event], store, receipt=Receipt(received_at=RECEIVED))
    assert result.status == "rejected"
    assert [e["field"] for e in result.errors] == [field]
    assert store.items == {}


def test_event_times_are_kept_in_utc() -> None:
    event = parse_event(_track(timestamp="2026-01-05T10:00:00+01:00"))
    assert event.timestamp == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert event.timestamp is not None and event.timestamp.utcoffset() == timedelta(0)


# --- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"[" * 1000 + b"]" * 1000, "nested too deeply"),
        (b'{"n": ' + b"1" * 4301 + b"}", "a number is out of range"),
        (b'{"s": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"s\\udc00x": 1}', "lone UTF-16 surrogate"),
        (b'{"s": "\xed\xa0\x80"}', "not UTF-8"),
        (b'{"n": NaN}', "not valid JSON"),
        (b'{"n": Infinity}', "not valid JSON"),
    ],
)
def test_json_no_later_reader_can_read_is_refused_when_parsed(data: bytes, reason: str) -> None:
    with pytest.raises(BadBody, match=reason):
        parse_json(data)


def test_json_as_sdks_send_it_still_parses() -> None:
    assert parse_json(b'\xef\xbb\xbf{"a": [1, 2.5, "\\ud83d\\ude00", null]}') == {
        "a": [1, 2.5, "😀", None]
    }
    assert parse_json(b'{"n": ' + b"1" * 4300 + b"}")["n"] == int("1" * 4300)


def test_a_url_encoded_form_must_be_utf8() -> None:
    assert parse_form(b"email=Ada%40example.com&name=Ad%C3%A0+L&empty=") == {
        "email": "Ada@example.com",
        "name": "Adà L",
        "empty": "",
    }
    with pytest.raises(BadBody, match="field 'email' is not UTF-8"):
        parse_form(b"email=%ED%A0%80%40example.com")
    with pytest.raises(BadBody, match="field name is not UTF-8"):
        parse_form(b"%FF=1")


@pytest.mark.parametrize(
    "body",
    [
        b'{"type": "deal_won", "a": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"type": "deal_won", "amount": ' + b"9" * 4301 + b"}",
        b'{"type": "deal_won", "contact_email": "\\ud800@example.com"}',
        b"[" * 10_000,
    ],
)
def test_a_crm_post_back_the_parser_refuses_is_a_400(body: bytes) -> None:
    from nurture.sales.crm import PostbackError, parse_postback

    with pytest.raises(PostbackError) as raised:
        parse_postback(body)
    assert raised.value.status == 400
    assert "not JSON" in str(raised.value)
