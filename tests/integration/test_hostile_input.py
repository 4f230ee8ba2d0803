"""Hostile input on every public route: each of the five classes that once answered 500
(a malformed write key, JSON nested ~1,000 deep, integers over 4,300 digits, time offsets
that overflow, lone surrogates), and their families, is a 4xx that names the field and the
reason, and stores nothing."""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SIGNUP = "/v1/forms/newsletter-signup"
URLENCODED = {"content-type": "application/x-www-form-urlencoded"}


def _basic(raw: bytes) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(raw).decode()}


def _track(**extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed", "anonymousId": "anon-1", **extra}


def _nested(levels: int) -> dict[str, Any]:
    """`levels` objects, one inside the next: {"a": {"a": ... {}}}."""
    value: dict[str, Any] = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def _json(value: Any) -> str:
    return json.dumps(value)


DEEP_ARRAY = "[" * 1000 + "]" * 1000
BIG_INT = "1" * 4301  # Python refuses to convert more than 4,300 digits
OVERFLOW = "9999-12-31T23:59:59-23:59"  # year 10000 in UTC
UNDERFLOW = "0001-01-01T00:00:00+23:59"  # year 0 in UTC


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    write_key: str | None = "local-write-key"
    status: int = 400
    says: str = ""  # in the message or the field/reason of an error


CASES = [
    # 1. a malformed write key: refused as a key, before anything else
    Case(
        "non-ASCII basic",
        "POST",
        "/v1/track",
        _track(),
        {"authorization": "Basic ké"},
        status=401,
        says="Authorization",
    ),
    Case(
        "non-base64 basic",
        "POST",
        "/v1/track",
        _track(),
        {"authorization": "Basic !!!"},
        status=401,
        says="Authorization",
    ),
    Case(
        "non-UTF-8 basic",
        "POST",
        "/v1/batch",
        {"batch": [_track()]},
        _basic(b"\xff\xfe:"),
        status=401,
        says="Authorization",
    ),
    Case(
        "UTF-8 unknown key",
        "POST",
        "/v1/t",
        _track(),
        _basic("clé-à-moi:".encode()),
        status=401,
        says="write key",
    ),
    Case(
        "non-ASCII basic on a form",
        "POST",
        SIGNUP,
        {"email": "ada@example.com"},
        {"authorization": "Basic ключ"},
        status=401,
        says="Authorization",
    ),
    Case(
        "non-ASCII body key",
        "POST",
        "/v1/track",
        _track(writeKey="ключ"),
        write_key=None,
        status=401,
        says="write key",
    ),
    Case(
        "non-ASCII query key",
        "POST",
        "/v1/track?writeKey=%D0%BA%ED%A0%80",
        _track(),
        write_key=None,
        status=401,
        says="write key",
    ),
    # 2. nesting: ~1,000 deep (the parser's limit), and the budget of 32 levels
    Case(
        "1,000-deep track",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"a":' + DEEP_ARRAY + "}}",
        says="nested too deeply",
    ),
    Case(
        "1,000-deep batch",
        "POST",
        "/v1/b",
        '{"batch":' + DEEP_ARRAY + "}",
        says="nested too deeply",
    ),
    Case(
        "1,000-deep form", "POST", SIGNUP, '{"email":' + DEEP_ARRAY + "}", says="nested too deeply"
    ),
    Case(
        "1,000-deep gzip",
        "POST",
        "/v1/identify",
        gzip.compress(("{" + '"a":{' * 1000 + "}" * 1001).encode()),
        {"content-encoding": "gzip"},
        says="nested too deeply",
    ),
    Case(
        "properties 220 deep",
        "POST",
        "/v1/track",
        _track(properties=_nested(220)),
        says="nested too deeply",
    ),
    Case(
        "properties 33 deep",
        "POST",
        "/v1/track",
        _track(properties=_nested(33)),
        says="properties.a.a",
    ),
    Case(
        "traits 33 deep", "POST", "/v1/i", {"userId": "u1", "traits": _nested(33)}, says="traits.a"
    ),
    Case(
        "context 40 deep",
        "POST",
        "/v1/page",
        {"anonymousId": "a", "context": _nested(40)},
        says="context.a",
    ),
    Case(
        "list 33 deep",
        "POST",
        "/v1/screen",
        {"anonymousId": "a", "properties": {"l": json.loads("[" * 32 + "]" * 32)}},
        says="properties.l",
    ),
    # 3. integers over 4,300 digits, and numbers no later reader can hold
    Case(
        "4,301-digit form (no key)",
        "POST",
        SIGNUP,
        '{"email":' + BIG_INT + "}",
        write_key=None,
        says="number is out of range",
    ),
    Case(
        "4,301-digit track",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"n":' + BIG_INT + "}}",
        says="number is out of range",
    ),
    Case(
        "4,301-digit messageId",
        "POST",
        "/v1/batch",
        '{"batch":[{"type":"track","event":"x","anonymousId":"a","messageId":' + BIG_INT + "}]}",
        says="number is out of range",
    ),
    Case(
        "400-digit revenue",
        "POST",
        "/v1/track",
        '{"type":"track","event":"Order Completed","anonymousId":"a","properties":'
        '{"revenue":' + "9" * 400 + "}}",
        says="properties.revenue",
    ),
    Case(
        "39 significant digits",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"n":' + "1" * 39 + "}}",
        says="38 significant digits",
    ),
    Case(
        "1e999",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"n":1e999}}',
        says="not a finite number",
    ),
    Case(
        "NaN",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"n":NaN}}',
        says="not valid JSON",
    ),
    Case(
        "-Infinity",
        "POST",
        SIGNUP,
        '{"email":"ada@example.com","company":-Infinity}',
        says="not valid JSON",
    ),
    Case(
        "1e-200",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"n":1e-200}}',
        says="out of range",
    ),
    Case(
        "4,300-digit form field",
        "POST",
        SIGNUP,
        '{"email":"ada@example.com","first_name":' + "7" * 4300 + "}",
        says="first_name",
    ),
    # 4. time offsets that overflow, in every date-like field
    Case("timestamp overflow", "POST", "/v1/track", _track(timestamp=OVERFLOW), says="timestamp"),
    Case(
        "originalTimestamp underflow",
        "POST",
        "/v1/track",
        _track(originalTimestamp=UNDERFLOW),
        says="originalTimestamp",
    ),
    Case(
        "event sentAt overflow",
        "POST",
        "/v1/p",
        {"anonymousId": "a", "sentAt": OVERFLOW},
        says="sentAt",
    ),
    Case(
        "skew overflow",
        "POST",
        "/v1/batch",
        {"batch": [_track(timestamp="9999-12-31T23:59:59Z")], "sentAt": "0001-01-01T00:00:00Z"},
        says="sentAt",
    ),
    Case(
        "skew overflow per event",
        "POST",
        "/v1/track",
        _track(originalTimestamp="0001-01-02T00:00:00Z", sentAt="9999-12-30T00:00:00Z"),
        says="sentAt",
    ),
    Case(
        "trait date overflow",
        "POST",
        "/v1/identify",
        {"userId": "u1", "traits": {"birthday": OVERFLOW}},
        says="traits.birthday",
    ),
    Case(
        "property date overflow",
        "POST",
        "/v1/track",
        _track(properties={"renewal": {"at": UNDERFLOW}}),
        says="properties.renewal.at",
    ),
    Case(
        "group trait date overflow",
        "POST",
        "/v1/group",
        {"anonymousId": "a", "groupId": "g", "traits": {"since": OVERFLOW}},
        says="traits.since",
    ),
    Case(
        "form date overflow",
        "POST",
        SIGNUP,
        {"email": "ada@example.com", "company": OVERFLOW},
        says="company",
    ),
    # 5. lone surrogates: JSON escapes, raw bytes, keys, forms
    Case(
        "surrogate in form field",
        "POST",
        SIGNUP,
        '{"email":"ada@example.com","first_name":"\\ud800"}',
        says="surrogate",
    ),
    Case(
        "surrogate in form email",
        "POST",
        SIGNUP,
        '{"email":"ada\\udfff@example.com"}',
        says="surrogate",
    ),
    Case(
        "surrogate in event name",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x\\ud800","anonymousId":"a"}',
        says="surrogate",
    ),
    Case(
        "surrogate key",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","properties":{"k\\udc00":1}}',
        says="surrogate",
    ),
    Case(
        "surrogate as raw bytes",
        "POST",
        "/v1/track",
        b'{"type":"track","event":"x\xed\xa0\x80","anonymousId":"a"}',
        says="not UTF-8",
    ),
    Case(
        "surrogate url-encoded form",
        "POST",
        SIGNUP,
        "email=%ED%A0%80%40example.com",
        URLENCODED,
        says="field 'email' is not UTF-8",
    ),
    Case(
        "surrogate writeKey in body",
        "POST",
        "/v1/track",
        '{"type":"track","event":"x","anonymousId":"a","writeKey":"\\ud800"}',
        write_key=None,
        says="surrogate",
    ),
    # the same families on the links in messages and the sales pages (token is the key)
    Case("non-ASCII preference token", "GET", "/u/ké", status=403, says="Sorry"),
    Case(
        "surrogate-ish preference post",
        "POST",
        "/u/%ED%A0%80",
        "List-Unsubscribe=One-Click%ED%A0%80",
        URLENCODED,
        status=403,
        says="Sorry",
    ),
    Case(
        "huge preference post",
        "POST",
        "/u/abc",
        "topic=" + BIG_INT,
        URLENCODED,
        status=403,
        says="Sorry",
    ),
    Case("non-ASCII confirmation token", "POST", "/c/ключ", status=403, says="Sorry"),
    Case("non-ASCII sales token", "GET", "/sales/ключ", status=400),
    Case("surrogate sales post", "POST", "/sales/abc", "answer=%ED%A0%80", URLENCODED, status=400),
    Case(
        "deep sales tasks post",
        "POST",
        "/sales/tasks/abc",
        "x=" + DEEP_ARRAY,
        URLENCODED,
        status=400,
    ),
]


def _text(answer: Any) -> str:
    return json.dumps(answer, ensure_ascii=False) if not isinstance(answer, str) else answer


def test_every_hostile_request_is_a_4xx_with_a_reason_and_stores_nothing(
    live: LocalCloud, tables: Tables
) -> None:
    state_before = tables._scan("StateTable")
    wrong: list[str] = []
    for case in CASES:
        status, _, answer = live.http(
            case.method,
            case.path,
            case.body,
            headers=dict(case.headers),
            write_key=case.write_key,
        )
        text = _text(answer)
        if status != case.status or case.says not in text:
            wrong.append(f"{case.name}: {status} {text[:300]}")
    assert not wrong, "\n".join(wrong)
    # Nothing of any of them was stored: no activity, no contact, no dedupe guard, no email
    assert tables.activity_items() == []
    assert tables.contact_items() == []
    assert tables._scan("StateTable") == state_before
    assert live.outbox == []
    assert live.errors == []


def test_the_nesting_budget_is_dynamodbs_32_levels(live: LocalCloud, tables: Tables) -> None:
    # Properties 32 levels deep (DynamoDB's limit for nested attributes) are stored and read
    # back by the react function; the react function has nothing to retry
    status, _, body = live.http("POST", "/v1/track", _track(properties=_nested(32)))
    assert status == 200, body
    [stored] = tables.visitor_activities()
    assert stored.properties == _nested(32)
    # one more level is refused by name, and its neighbour in the batch is still stored
    status, _, body = live.http(
        "POST",
        "/v1/batch",
        {"batch": [_track(properties=_nested(33)), _track(messageId="ok", event="Fine")]},
    )
    assert status == 200
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted"]
    [error] = body["results"][0]["errors"]
    assert error["field"] == "properties" + ".a" * 32  # the 33rd object
    assert error["reason"] == "is nested more than 32 levels deep"
    assert sorted(a.name for a in tables.visitor_activities()) == ["Fine", "Viewed"]
    assert live.errors == []


def test_unknown_form_ids_cost_no_s3_read(
    live: LocalCloud, tables: Tables, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.s3.responses import S3Response

    # S3 requests as moto answers them: one call per GetObject / ListObjectsV2 request
    reads: list[str] = []
    listings: list[str] = []
    get_object, list_objects = S3Response.get_object, S3Response.list_objects_v2

    def counted_get(self: Any) -> Any:
        answer = get_object(self)
        reads.append(self.path.split("?")[0])
        return answer

    def counted_list(self: Any) -> Any:
        listings.append(self.path)
        return list_objects(self)

    monkeypatch.setattr(S3Response, "get_object", counted_get)
    monkeypatch.setattr(S3Response, "list_objects_v2", counted_list)

    # When 200 form ids that do not exist are posted, some of them not even file names
    ids = [f"nope-{n}" for n in range(195)] + ["..%2Fsecret", "a" * 300, "%D0%BA", "-x", "x.yaml"]
    for form_id in ids:
        status, _, body = live.http("POST", f"/v1/forms/{form_id}", {"email": "ada@example.com"})
        assert status == 404, body
        assert body["code"] == "unknown_form"
    # Then not one S3 object was read for them, and the forms were listed once
    assert [k for k in reads if "/forms/" in k] == []
    assert len(listings) == 1
    # and a real form still works, read once however often it is posted within the minute
    started = live.clock.now()
    for n in range(3):
        status, _, _ = live.http(
            "POST", "/v1/forms/newsletter-signup", {"email": f"ada{n}@example.com"}
        )
        assert status == 202
    assert live.clock.now() - started < timedelta(minutes=1), "the clock moved: the cache aged"
    [read] = [k for k in reads if "/forms/" in k]
    assert read.endswith("/forms/newsletter-signup.yaml")
    assert len({a.name for a in tables.visitor_activities()}) == 1
