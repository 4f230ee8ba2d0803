"""Consent, double opt-in, one-click unsubscribe and the preference page, end to end."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from localcloud import LocalCloud
from tests.integration.delivery_helpers import (
    activities,
    contact,
    path_of,
    program,
    send,
    setup,
    sign_up,
    stats,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FORM_POST = {"content-type": "application/x-www-form-urlencoded"}


def test_without_consent_marketing_is_skipped_and_service_is_sent(cloud: LocalCloud) -> None:
    # Given a program with a marketing step and a service step
    setup(
        cloud,
        {
            "mixed": program(
                "mixed", send("promo", "t-a") + send("receipt", "t-b", purpose="service")
            )
        },
    )

    # When someone signs up without ticking any consent box
    sign_up(cloud)

    # Then only the service email goes out, and the skip is recorded with its reason
    assert [e.subject for e in cloud.outbox] == ["Subject t-b"]
    ada = contact(cloud)
    [skipped] = activities(cloud, ada.contact_id, "email.skipped")
    assert (skipped["properties"]["step_id"], skipped["properties"]["reason"]) == (
        "promo",
        "no_consent",
    )
    # a service email has no unsubscribe headers; the program went on and finished
    assert "List-Unsubscribe" not in cloud.outbox[0].headers
    assert any("finished" in t.what for t in cloud.timeline)
    assert stats(cloud, "mixed", "promo").get("skipped") == 1
    assert cloud.errors == []


def test_a_generic_marketing_consent_covers_every_topic_until_a_topic_says_otherwise(
    cloud: LocalCloud,
) -> None:
    # consent is checked per channel:topic; here the topic record (offers granted) decides
    setup(
        cloud, {"offers": program("offers", send("o1", "t-a", topic="offers") + send("n1", "t-b"))}
    )
    sign_up(cloud, offers="on")
    assert [e.subject for e in cloud.outbox] == ["Subject t-a"]  # newsletter: no consent


def test_double_opt_in_counts_only_once_the_link_is_followed(cloud: LocalCloud) -> None:
    # Given a double opt-in form and a program that waits for the confirmation
    setup(cloud, {})
    cloud.upload(
        "forms/t-doi.yaml",
        "id: t-doi\ndouble_opt_in: true\nfields:\n"
        "  - {name: email, contact_field: email, required: true, type: email}\n"
        "consent:\n  - {field: news, channel: email, topic: newsletter, text: Newsletter}\n",
    )
    template = ROOT / "templates/email/double-opt-in.yaml"  # the repository's own
    cloud.upload("templates/email/double-opt-in.yaml", template.read_text())
    steps = (
        "  - id: confirmed\n    type: wait_for_event\n    event: consent.confirmed\n"
        "    timeout: 7 days\n    on_event: hello\n    on_timeout: bye\n"
        + send("hello", "t-a")
        + "    next: bye\n"
        + "  - id: bye\n    type: end\n"
    )
    setup(cloud, {"doi": program("doi", steps, form="t-doi")})

    # When someone signs up
    status, _, _ = cloud.http(
        "POST", "/v1/forms/t-doi", {"email": "dora@example.com", "news": "on"}
    )
    assert status == 202

    # Then the consent is pending, and only the confirmation email went out
    dora = contact(cloud, "dora@example.com")
    assert dora.consent["email:newsletter"].status == "pending"
    [confirmation] = cloud.outbox
    assert confirmation.subject == "Please confirm your subscription"
    [link] = re.findall(r"http://localhost:3000/c/[\w.-]+", confirmation.text)

    # When the link is opened, a page asks to confirm (a link scanner's GET changes nothing)
    status, _, page = cloud.http("GET", path_of(link), write_key=None)
    assert status == 200 and '<form method="post">' in page
    assert contact(cloud, "dora@example.com").consent["email:newsletter"].status == "pending"

    # and when they confirm, the consent counts and the waiting program sends at once
    status, _, _ = cloud.http("POST", path_of(link), "", headers=FORM_POST, write_key=None)
    assert status == 200
    consent = contact(cloud, "dora@example.com").consent["email:newsletter"]
    assert (consent.status, consent.source) == ("granted", "form:t-doi")
    assert [e.subject for e in cloud.outbox] == ["Please confirm your subscription", "Subject t-a"]
    assert cloud.errors == []


def test_one_click_unsubscribe_with_a_valid_token_and_not_with_a_tampered_one(
    cloud: LocalCloud,
) -> None:
    setup(cloud, {"news": program("news", send("n1", "t-a"))})
    sign_up(cloud, news="on")
    [email] = cloud.outbox
    # Every marketing email carries RFC 8058 headers and a visible link
    url = email.headers["List-Unsubscribe"].strip("<>")
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url in email.html and url in email.text
    payload, mac = path_of(url).removeprefix("/u/").split(".")

    # A tampered token (another contact id, or a changed signature) is refused
    forged = payload[:-2] + ("AA" if not payload.endswith("AA") else "BB")
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-2]}xx"):
        status, _, _ = cloud.http(
            "POST", f"/u/{bad}", "List-Unsubscribe=One-Click", headers=FORM_POST, write_key=None
        )
        assert status == 403
    assert contact(cloud).consent["email:newsletter"].status == "granted"

    # The real one unsubscribes with one POST
    status, _, _ = cloud.http(
        "POST", path_of(url), "List-Unsubscribe=One-Click", headers=FORM_POST, write_key=None
    )
    assert status == 200
    ada = contact(cloud)
    assert ada.consent["email:newsletter"].status == "withdrawn"
    assert ada.consent["email:marketing"].status == "withdrawn"
    assert stats(cloud, "news", "n1")["unsubscribed"] == 1
    assert activities(cloud, ada.contact_id, "consent.withdrawn")


def test_an_unsubscribe_between_two_steps_stops_the_second_send(cloud: LocalCloud) -> None:
    steps = (
        send("first", "t-a")
        + "  - id: pause\n    type: wait\n    duration: 2 days\n"
        + send("second", "t-b")
    )
    setup(cloud, {"two": program("two", steps)})
    sign_up(cloud, news="on")
    [first] = cloud.outbox

    # the reader leaves from the preference page
    status, _, page = cloud.http(
        "GET", path_of(first.headers["List-Unsubscribe"].strip("<>")), write_key=None
    )
    assert status == 200 and "Unsubscribe from all" in page
    status, _, _ = cloud.http(
        "POST",
        path_of(first.headers["List-Unsubscribe"].strip("<>")),
        "action=unsubscribe_all",
        headers=FORM_POST,
        write_key=None,
    )
    assert status == 200
    cloud.advance(timedelta(days=3))

    assert [e.subject for e in cloud.outbox] == ["Subject t-a"]
    [skipped] = activities(cloud, contact(cloud).contact_id, "email.skipped")
    assert skipped["properties"]["reason"] == "consent_withdrawn"
    assert cloud.errors == []


def test_the_preference_page_escapes_names_and_saves_choices(cloud: LocalCloud) -> None:
    setup(cloud, {"news": program("news", send("n1", "t-a"))})
    sign_up(cloud, first_name="<script>alert(1)</script>", news="on")
    path = path_of(cloud.outbox[0].headers["List-Unsubscribe"].strip("<>"))
    status, headers, page = cloud.http("GET", path, write_key=None)
    assert status == 200
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    assert 'name="email:newsletter" value="on" checked' in page

    # untick the newsletter, tick offers
    body = "action=save&shown=email:newsletter,email:offers,email:events&email%3Aoffers=on"
    status, _, page = cloud.http("POST", path, body, headers=FORM_POST, write_key=None)
    assert status == 200 and "saved" in page
    consent = contact(cloud).consent
    assert consent["email:newsletter"].status == "withdrawn"
    assert (consent["email:offers"].status, consent["email:offers"].source) == (
        "granted",
        "preference-page",
    )
    assert consent["email:offers"].text == ('Ticked "Offers" under "Email" on the preference page')
    assert "email:events" not in consent  # left unticked, never granted: nothing to record

    # a topic nobody configured, with the client's own wording: refused, nothing stored
    before = contact(cloud).model_dump()
    consent_activities = len(activities(cloud, before["contact_id"]))
    body = (
        "action=save&shown=email:newsletter,email:<b>casino</b>&email%3A%3Cb%3Ecasino%3C%2Fb%3E=on"
    )
    status, _, page = cloud.http("POST", path, body, headers=FORM_POST, write_key=None)
    assert status == 400
    assert (
        "field &#39;shown&#39; lists &#39;email:&lt;b&gt;casino" in page and "<b>casino" not in page
    )
    assert contact(cloud).model_dump() == before
    assert len(activities(cloud, before["contact_id"])) == consent_activities
