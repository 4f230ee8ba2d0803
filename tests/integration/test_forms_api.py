"""Form submissions: a bad post is refused by field and leaves no trace; a good one, JSON or
url-encoded, is stored and makes a contact."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from localcloud import LocalCloud

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

SIGNUP = "/v1/forms/newsletter-signup"


def assert_no_trace(cloud: LocalCloud, tables: Tables) -> None:
    assert tables.activity_items() == []
    assert tables.contact_items() == []
    assert cloud.outbox == []
    assert cloud.errors == []


@pytest.mark.parametrize(
    ("post", "reason"),
    [
        ({"first_name": "Ada"}, "is required"),
        ({"email": "   ", "first_name": "Ada"}, "is required"),
        ({"email": "not-an-email"}, "not a valid email"),
        ({"email": "ada@localhost"}, "not a valid email"),
        ({"email": ["ada@example.com"]}, "single value"),
    ],
    ids=["missing", "blank", "no-at", "no-domain", "list"],
)
def test_a_bad_email_is_a_400_naming_the_field_and_leaves_no_trace(
    live: LocalCloud, tables: Tables, post: dict[str, Any], reason: str
) -> None:
    # When the sign-up form is posted without a usable email
    status, _, body = live.http("POST", SIGNUP, post)

    # Then it is refused, naming the field `email`
    assert status == 400
    assert body["success"] is False
    assert [e["field"] for e in body["errors"]] == ["email"]
    assert reason in body["errors"][0]["reason"]
    # and nothing is stored, no contact made, no email sent
    assert_no_trace(live, tables)


def test_a_url_encoded_post_without_email_is_a_400(live: LocalCloud, tables: Tables) -> None:
    status, _, body = live.http(
        "POST",
        SIGNUP,
        "first_name=Ada&company=X",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["email"]
    assert_no_trace(live, tables)


def test_an_unknown_form_is_a_404(live: LocalCloud, tables: Tables) -> None:
    # When a form that does not exist is posted
    status, _, body = live.http("POST", "/v1/forms/no-such-form", {"email": "ada@example.com"})

    # Then it is not found, and nothing is stored
    assert status == 404
    assert "no-such-form" in body["message"]
    assert_no_trace(live, tables)


def test_a_form_body_that_is_not_json_is_a_400(live: LocalCloud, tables: Tables) -> None:
    status, _, _ = live.http(
        "POST", SIGNUP, '{"email": ', headers={"content-type": "application/json"}
    )
    assert status == 400
    status, _, _ = live.http(
        "POST", SIGNUP, '["ada@example.com"]', headers={"content-type": "application/json"}
    )
    assert status == 400
    assert_no_trace(live, tables)


def test_a_form_over_32_kb_is_a_413(live: LocalCloud, tables: Tables) -> None:
    status, _, _ = live.http(
        "POST", SIGNUP, {"email": "ada@example.com", "company": "x" * 33 * 1024}
    )
    assert status == 413
    assert_no_trace(live, tables)


def test_an_overlong_anonymous_id_is_a_400(live: LocalCloud, tables: Tables) -> None:
    status, _, body = live.http(
        "POST", SIGNUP, {"email": "ada@example.com", "anonymousId": "a" * 201}
    )
    assert status == 400
    assert [e["field"] for e in body["errors"]] == ["anonymousId"]
    assert_no_trace(live, tables)


def test_a_url_encoded_post_is_stored_and_makes_a_contact(live: LocalCloud, tables: Tables) -> None:
    # When a plain HTML form posts url-encoded fields, with its write key in the body
    status, _, body = live.http(
        "POST",
        SIGNUP,
        "email=Grace%40Example.com&first_name=Grace&consent_newsletter=on&writeKey=local-write-key",
        headers={"content-type": "application/x-www-form-urlencoded"},
        write_key=None,
    )

    # Then it is accepted, stored once, and Grace is a contact with her consent
    assert status == 202
    [form] = tables.visitor_activities()
    assert (form.kind, form.name, form.message_id) == (
        "form",
        "newsletter-signup",
        body["messageId"],
    )
    assert "writeKey" not in form.properties["fields"]
    contact = tables.contact_by_email("grace@example.com")
    assert contact.first_name == "Grace"
    assert "email:newsletter" in contact.consent
    assert live.errors == []
