"""The tracking API as analytics.js and the server SDKs speak it: the short routes and
text/plain bodies with the write key inside, gzip (limits on the decompressed body, bombs),
Segment's timestamps, CORS on every answer, identify traits, group and alias, and the
rejections an operator can look at."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.request
import zlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud
from localcloud.cloud import LOCAL_SECRETS
from localcloud.server import LocalApi
from nurture.tracking.trust import user_hash

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SECRET = "local-secret-key"
IDENTITY_SECRET = LOCAL_SECRETS["identity-verification-secret"]
ORIGIN = "https://www.example.com"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def post(
    cloud: LocalCloud,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
    key: str | None = "local-write-key",
) -> tuple[int, dict[str, str], Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return cloud.http(
        "POST", path, data, {"Content-Type": "application/json", **(headers or {})}, write_key=key
    )


# --- the routes analytics.js posts to -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "event", "kind"),
    [
        ("/v1/t", {"type": "track", "event": "Product Viewed"}, "track"),
        ("/v1/p", {"type": "page", "name": "Pricing"}, "page"),
        ("/v1/i", {"type": "identify", "traits": {"plan": "pro"}}, "identify"),
        ("/v1/s", {"type": "screen", "name": "Home"}, "screen"),
        ("/v1/g", {"type": "group", "groupId": "acme"}, "group"),
        ("/v1/a", {"type": "alias", "previousId": "v-old", "userId": "u-1"}, "alias"),
    ],
)
def test_analytics_js_short_routes_with_a_text_plain_body_and_the_key_inside(
    cloud: LocalCloud, tables: Tables, path: str, event: dict[str, Any], kind: str
) -> None:
    # As analytics.js sends it: Content-Type text/plain (no preflight), writeKey in the body,
    # sentAt on the event
    body = {
        "anonymousId": "v-1",
        "messageId": f"ajs-{kind}",
        "writeKey": "local-write-key",
        "timestamp": "2026-01-05T08:59:59.000Z",
        "sentAt": "2026-01-05T09:00:00.000Z",
        **event,
    }
    status, _, answer = post(cloud, path, body, {"Content-Type": "text/plain"}, key=None)
    assert status == 200, answer
    [stored] = [a for a in tables.activities() if a.message_id == f"ajs-{kind}"]
    assert stored.kind == kind


def test_analytics_js_batching_posts_to_b_with_the_key_in_the_body(
    cloud: LocalCloud, tables: Tables
) -> None:
    body = {
        "writeKey": "local-write-key",
        "sentAt": "2026-01-05T09:00:00.000Z",
        "batch": [
            {"type": "page", "anonymousId": "v-1", "messageId": "b-1", "name": "Home"},
            {"type": "track", "anonymousId": "v-1", "messageId": "b-2", "event": "Signed Up"},
        ],
    }
    status, _, answer = post(cloud, "/v1/b", body, {"Content-Type": "text/plain"}, key=None)
    assert status == 200, answer
    assert [a.message_id for a in tables.visitor_activities()] == ["b-1", "b-2"]


# --- gzip -----------------------------------------------------------------------------------


def test_a_gzip_batch_is_stored(cloud: LocalCloud, tables: Tables) -> None:
    batch = {"batch": [{"type": "track", "userId": "u-1", "messageId": "g-1", "event": "Ok"}]}
    status, _, _ = post(
        cloud, "/v1/batch", gzip.compress(json.dumps(batch).encode()), {"Content-Encoding": "gzip"}
    )
    assert status == 200
    assert [a.message_id for a in tables.activities("user:u-1")] == ["g-1"]


def _padded_track(size: int) -> bytes:
    """A track call whose JSON is exactly `size` bytes."""
    base = {"type": "track", "userId": "u-1", "messageId": "big", "event": "Big", "pad": ""}
    pad = size - len(json.dumps(base).encode())
    return json.dumps({**base, "pad": "x" * pad}).encode()


def test_the_32_kb_call_limit_is_on_the_decompressed_body(
    cloud: LocalCloud, tables: Tables
) -> None:
    # 33 KB of JSON that gzips to almost nothing is still a 33 KB call
    over = _padded_track(33 * 1024)
    assert len(gzip.compress(over)) < 1024
    status, _, answer = post(cloud, "/v1/track", gzip.compress(over), {"Content-Encoding": "gzip"})
    assert status == 413
    assert answer["code"] == "payload_too_large"
    assert "32 KB" in answer["message"]
    assert tables.activity_items() == []


def test_the_500_kb_batch_limit_is_on_the_decompressed_body(
    cloud: LocalCloud, tables: Tables
) -> None:
    events = [
        {"type": "track", "userId": "u-1", "messageId": f"m-{i}", "event": "E", "p": "x" * 2000}
        for i in range(260)
    ]
    body = json.dumps({"batch": events}).encode()
    assert len(body) > 500 * 1024
    status, _, answer = post(cloud, "/v1/batch", gzip.compress(body), {"Content-Encoding": "gzip"})
    assert status == 413 and "500 KB" in answer["message"]
    assert tables.activity_items() == []


def test_a_gzip_bomb_is_refused(cloud: LocalCloud, tables: Tables) -> None:
    # 100 MB of zeros in about 100 KB
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = b"".join(squeeze.compress(bytes(1 << 20)) for _ in range(100)) + squeeze.flush()
    status, _, answer = post(cloud, "/v1/batch", bomb, {"Content-Encoding": "gzip"})
    assert status == 413 and answer["code"] == "payload_too_large"
    assert tables.activity_items() == []


def test_broken_gzip_and_unknown_encodings_are_refused_by_name(cloud: LocalCloud) -> None:
    status, _, answer = post(cloud, "/v1/track", b"\x1f\x8bnope", {"Content-Encoding": "gzip"})
    assert (status, answer["code"]) == (400, "invalid_body")
    assert "gzip" in answer["message"]
    status, _, answer = post(cloud, "/v1/track", b"{}", {"Content-Encoding": "br"})
    assert (status, answer["code"]) == (415, "unsupported_encoding")


# --- timestamps -----------------------------------------------------------------------------


def test_clock_skew_is_corrected_with_sent_at(cloud: LocalCloud, tables: Tables) -> None:
    now = cloud.clock.now()
    fast = timedelta(hours=3)  # the device's clock is three hours ahead
    event = {
        "type": "track",
        "userId": "u-1",
        "messageId": "skew",
        "event": "E",
        "timestamp": (now + fast - timedelta(seconds=40)).isoformat(),
        "sentAt": (now + fast).isoformat(),
    }
    status, _, _ = post(cloud, "/v1/track", event)
    assert status == 200
    [stored] = tables.activities("user:u-1")
    assert stored.occurred_at == (now - timedelta(seconds=40)).isoformat()[:19] + ".000Z"


def test_a_future_time_is_clamped_with_a_warning(cloud: LocalCloud, tables: Tables) -> None:
    future = (cloud.clock.now() + timedelta(days=2)).isoformat()
    event = {"userId": "u-1", "messageId": "f", "event": "E", "timestamp": future}
    status, _, answer = post(cloud, "/v1/track", event)
    assert status == 200
    assert answer["results"][0]["warnings"][0]["field"] == "timestamp"
    assert "2 days in the future" in answer["results"][0]["warnings"][0]["reason"]
    [stored] = tables.activities("user:u-1")
    assert stored.occurred_at == stored.received_at


def test_a_time_before_the_site_started_is_rejected(cloud: LocalCloud, tables: Tables) -> None:
    event = {"userId": "u-1", "messageId": "old", "event": "E", "timestamp": "1970-01-01T00:00:00Z"}
    status, _, answer = post(cloud, "/v1/track", event)
    assert status == 400
    [error] = answer["results"][0]["errors"]
    assert error["field"] == "timestamp" and "before the site started" in error["reason"]
    assert tables.activity_items() == []


# --- CORS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "key", "status"),
    [
        ("/v1/track", {"userId": "u", "event": "E"}, "local-write-key", 200),
        ("/v1/track", {"userId": "u", "event": "E"}, "wrong-key", 401),
        ("/v1/track", {"userId": "u"}, "local-write-key", 400),
        ("/v1/track", {"userId": "u", "event": "x" * 40_000}, "local-write-key", 413),
        ("/v1/nowhere", {}, "local-write-key", 404),
    ],
)
def test_every_answer_carries_cors_headers(
    cloud: LocalCloud, path: str, body: Any, key: str, status: int
) -> None:
    got, headers, _ = post(cloud, path, body, {"Origin": ORIGIN}, key=key)
    assert got == status
    assert headers.get("Access-Control-Allow-Origin") in ("*", ORIGIN)


def test_a_preflight_allows_what_analytics_js_sends(cloud: LocalCloud) -> None:
    api = LocalApi(cloud, port=0, log=lambda _: None).start()
    try:
        request = urllib.request.Request(
            f"{api.url}/v1/t",
            method="OPTIONS",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-retry-count",
            },
        )
        with urllib.request.urlopen(request) as response:  # noqa: S310 - a local URL
            allowed = {
                h.strip().lower()
                for h in response.headers["Access-Control-Allow-Headers"].split(",")
            }
            assert response.headers["Access-Control-Allow-Origin"] in ("*", ORIGIN)
            assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert {"authorization", "content-type", "x-retry-count"} <= allowed
    finally:
        api.stop()


# --- identify, group, alias ---------------------------------------------------------------


def test_identify_traits_come_from_traits_and_context_traits(
    cloud: LocalCloud, tables: Tables
) -> None:
    event = {
        "userId": "u-7",
        "messageId": "id-7",
        "traits": {"email": "grace@example.com", "plan": "team"},
        "context": {"traits": {"firstName": "Grace", "plan": "ignored: traits win"}},
    }
    status, _, _ = post(cloud, "/v1/identify", event, key=SECRET)
    assert status == 200
    contact = tables.contact_by_email("grace@example.com")
    assert (contact.first_name, contact.fields["plan"]) == ("Grace", "team")


def test_a_contact_can_be_known_by_user_id_alone(cloud: LocalCloud, tables: Tables) -> None:
    page = {"anonymousId": "v-9", "messageId": "pv-9", "name": "Docs"}
    post(cloud, "/v1/page", page)
    event = {"userId": "u-9", "anonymousId": "v-9", "messageId": "id-9", "traits": {"plan": "pro"}}
    status, _, _ = post(cloud, "/v1/identify", event)
    assert status == 200
    [contact] = tables.contacts()
    assert contact.email is None and contact.fields["plan"] == "pro"
    assert tables.contact_for_actor("user:u-9") == contact.contact_id
    assert {a.message_id for a in tables.activities_of(contact)} >= {"pv-9", "id-9"}

    # and when a trusted sender later gives the email, the user id is theirs; what the public
    # key joined to it is not (README, "Who may change a contact")
    identify = {"userId": "u-9", "messageId": "id-9b", "traits": {"email": "lin@example.com"}}
    post(cloud, "/v1/identify", identify, key=SECRET)
    lin = tables.contact_by_email("lin@example.com")
    assert tables.contact_for_actor("user:u-9") == lin.contact_id
    assert {a.message_id for a in tables.activities_of(lin)} >= {"id-9", "id-9b"}
    assert "pv-9" not in {a.message_id for a in tables.activities_of(lin)}

    # a verified identify from the browser (its backend's userHash) joins it all
    verified = {
        "userId": "u-10",
        "anonymousId": "v-10",
        "messageId": "id-10",
        "context": {"nurture": {"userHash": user_hash(IDENTITY_SECRET, "u-10")}},
    }
    post(cloud, "/v1/page", {"anonymousId": "v-10", "messageId": "pv-10", "name": "Docs"})
    post(cloud, "/v1/identify", verified)
    identify = {"userId": "u-10", "messageId": "id-10b", "traits": {"email": "mo@example.com"}}
    post(cloud, "/v1/identify", identify, key=SECRET)
    mo = tables.contact_by_email("mo@example.com")
    assert tables.contact_for_actor("anon:v-10") == mo.contact_id
    assert "pv-10" in {a.message_id for a in tables.activities_of(mo)}


def test_group_creates_the_account_and_links_the_contact(cloud: LocalCloud, tables: Tables) -> None:
    identify = {"userId": "u-1", "messageId": "i-1", "traits": {"email": "ada@example.com"}}
    post(cloud, "/v1/identify", identify, key=SECRET)
    group = {
        "userId": "u-1",
        "messageId": "g-1",
        "groupId": "acme",
        "traits": {"name": "Acme", "employees": "1,200", "plan": "enterprise", "tier": 2},
    }
    status, _, _ = post(cloud, "/v1/group", group, key=SECRET)
    assert status == 200
    [account] = tables.accounts()
    assert (account.account_id, account.name, account.employees, account.plan) == (
        "acme",
        "Acme",
        1200,
        "enterprise",
    )
    assert account.traits == {"tier": 2}
    assert tables.contact_by_email("ada@example.com").account_id == "acme"

    # A public key may fill in what is empty, but not rewrite the account or move the contact
    rewrite = {**group, "messageId": "g-2", "traits": {"name": "Evil", "industry": "Retail"}}
    post(cloud, "/v1/group", rewrite)
    post(cloud, "/v1/group", {**group, "messageId": "g-3", "groupId": "evil-corp", "traits": {}})
    account = next(a for a in tables.accounts() if a.account_id == "acme")
    assert (account.name, account.industry) == ("Acme", "Retail")
    assert tables.contact_by_email("ada@example.com").account_id == "acme"


def test_alias_joins_the_previous_id_to_the_user(cloud: LocalCloud, tables: Tables) -> None:
    post(cloud, "/v1/page", {"anonymousId": "v-5", "messageId": "pv-5", "name": "Home"})
    identify = {"userId": "u-5", "messageId": "i-5", "traits": {"email": "bo@example.com"}}
    post(cloud, "/v1/identify", identify, key=SECRET)

    # A public key cannot join a visitor's history to a known contact ...
    alias = {"previousId": "v-5", "userId": "u-5", "messageId": "a-5"}
    post(cloud, "/v1/alias", alias)
    assert tables.contact_for_actor("anon:v-5") is None
    # ... a server's secret key can
    status, _, _ = post(cloud, "/v1/alias", {**alias, "messageId": "a-6"}, key=SECRET)
    assert status == 200
    contact = tables.contact_by_email("bo@example.com")
    assert tables.contact_for_actor("anon:v-5") == contact.contact_id
    assert "pv-5" in {a.message_id for a in tables.activities_of(contact)}


# --- rejections are visible -----------------------------------------------------------------


def test_rejections_name_the_field_and_reason_and_are_listed_locally(
    cloud: LocalCloud, tables: Tables
) -> None:
    batch = {
        "batch": [
            {"type": "track", "userId": "u", "messageId": "ok", "event": "Fine"},
            {"type": "track", "userId": "u", "messageId": "no-name"},
            {"type": "group", "userId": "u", "messageId": "no-group"},
        ]
    }
    status, _, answer = post(cloud, "/v1/batch", batch)
    assert status == 200
    assert [r["status"] for r in answer["results"]] == ["accepted", "rejected", "rejected"]
    assert [a.message_id for a in tables.visitor_activities()] == ["ok"]

    api = LocalApi(cloud, port=0, log=lambda _: None).start()
    try:
        with urllib.request.urlopen(f"{api.url}/_local/rejections") as response:  # noqa: S310
            listed = json.loads(response.read())
    finally:
        api.stop()
    assert [(r["messageId"], r["errors"][0]["field"]) for r in listed] == [
        ("no-name", "event"),
        ("no-group", "groupId"),
    ]


def test_the_function_itself_answers_cors_and_agrees_with_the_template(cloud: LocalCloud) -> None:
    # API Gateway adds the template's CORS headers in AWS; the function adds the same ones,
    # so an answer it gives is complete wherever it is served from
    ingest = cloud.function_by_name("IngestFunction")
    template = cloud.cors_configuration()
    assert template["AllowHeaders"] == ingest.module.CORS_HEADERS
    for key, status in (("wrong-key", 401), ("local-write-key", 400)):
        event = {
            "version": "2.0",
            "routeKey": "POST /v1/track",
            "rawPath": "/v1/track",
            "rawQueryString": "",
            "headers": {"origin": ORIGIN, **{k.lower(): v for k, v in basic(key).items()}},
            "body": json.dumps({"userId": "u"}),
            "isBase64Encoded": False,
            "requestContext": {
                "http": {"method": "POST", "path": "/v1/track", "sourceIp": "127.0.0.1"},
                "requestId": "r-1",
                "routeKey": "POST /v1/track",
                "stage": "$default",
            },
        }
        answer = cloud.invoke("IngestFunction", event)
        assert answer["statusCode"] == status
        assert answer["headers"]["Access-Control-Allow-Origin"] in ("*", ORIGIN)
        assert json.loads(answer["body"])["code"]  # what the Python SDKs read
