"""Anonymous visitors become known contacts: what they did before identifying joins their
contact, and what they do afterwards under the same anonymousId resolves to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from tests.integration.signup import marketing, sign_up

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

# A program started by a tracked event, so a later anonymous event visibly reaches the
# contact. A service message: it needs no marketing consent, which identify does not give.
TRIAL_PROGRAM = """\
id: trial-nudge
name: Nudge new trial users
trigger:
  event: trial_started
steps:
  - id: nudge
    type: send_email
    template: welcome-1
    purpose: service
"""


def page_view(cloud: LocalCloud, anonymous_id: str, message_id: str, url: str) -> None:
    status, _, _ = cloud.http(
        "POST",
        "/v1/page",
        {
            "anonymousId": anonymous_id,
            "messageId": message_id,
            "name": url.rsplit("/", 1)[-1],
            "context": {"page": {"url": url}},
        },
    )
    assert status == 200


def test_identify_joins_earlier_anonymous_activity_to_one_contact(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given an anonymous visitor X viewed two pages and downloaded a guide
    page_view(cloud, "X", "pv-1", "https://example.com/pricing")
    page_view(cloud, "X", "pv-2", "https://example.com/guides")
    status, _, _ = cloud.http(
        "POST", "/v1/track", {"anonymousId": "X", "messageId": "tr-1", "event": "guide_downloaded"}
    )
    assert status == 200
    assert tables.contacts() == []  # still anonymous

    # When X identifies with an email address
    status, _, _ = cloud.http(
        "POST",
        "/v1/identify",
        {
            "anonymousId": "X",
            "messageId": "id-1",
            "traits": {"email": "Ada@Example.com", "firstName": "Ada", "plan": "trial"},
        },
    )
    assert status == 200

    # Then there is one contact, known by X and by the email
    [contact] = tables.contacts()
    assert contact.email == "ada@example.com"
    assert contact.first_name == "Ada"
    assert contact.fields["plan"] == "trial"
    assert "anon:X" in contact.actors
    assert "email:ada@example.com" in contact.actors
    assert tables.contact_for_actor("anon:X") == contact.contact_id
    # and the contact's activity includes what X did before identifying
    message_ids = {a.message_id for a in tables.activities_of(contact)}
    assert {"pv-1", "pv-2", "tr-1", "id-1"} <= message_ids
    assert cloud.errors == []


def test_later_events_with_the_same_anonymous_id_resolve_to_the_same_contact(
    live: LocalCloud, tables: Tables
) -> None:
    # Given a program that emails whoever starts a trial, and a visitor X who identified
    live.upload("programs/trial-nudge.yaml", TRIAL_PROGRAM)
    assert '"status": "live"' in (live.read("programs/trial-nudge.status.json") or "")
    live.http("POST", "/v1/page", {"anonymousId": "X", "messageId": "pv-1", "name": "Home"})
    live.http("POST", "/v1/identify", {"anonymousId": "X", "traits": {"email": "ada@example.com"}})
    contact = tables.contact_by_email("ada@example.com")

    # When X, anonymous again as far as the event says, starts a trial
    status, _, _ = live.http(
        "POST", "/v1/track", {"anonymousId": "X", "messageId": "tr-9", "event": "trial_started"}
    )
    assert status == 200

    # Then it is the same contact: still one contact, the event is in its activity, and the
    # program triggered by the event emailed that contact
    assert [c.contact_id for c in tables.contacts()] == [contact.contact_id]
    assert "tr-9" in {a.message_id for a in tables.activities_of(contact)}
    [email] = live.outbox
    assert email.to == ["ada@example.com"]
    assert email.tags["contact_id"] == contact.contact_id
    assert email.tags["program_id"] == "trial-nudge"
    assert live.errors == []


def test_an_event_from_a_never_identified_visitor_enrols_no_one(
    live: LocalCloud, tables: Tables
) -> None:
    # Given the trial program is live
    live.upload("programs/trial-nudge.yaml", TRIAL_PROGRAM)

    # When an anonymous visitor who never identified starts a trial
    live.http("POST", "/v1/track", {"anonymousId": "Y", "event": "trial_started"})

    # Then the event is stored, but there is no contact and no email
    assert [a.name for a in tables.visitor_activities()] == ["trial_started"]
    assert tables.contacts() == []
    assert live.outbox == []
    assert live.errors == []


def test_a_form_submit_with_anonymous_id_joins_earlier_anonymous_activity(
    live: LocalCloud, tables: Tables
) -> None:
    # Given an anonymous visitor Y read the blog
    page_view(live, "Y", "pv-7", "https://example.com/blog/nurture")
    live.http(
        "POST",
        "/v1/track",
        {"anonymousId": "Y", "messageId": "tr-7", "event": "newsletter_cta_seen"},
    )

    # When Y signs up for the newsletter, the page passing its anonymousId
    body = sign_up(
        live,
        {
            "email": "grace@example.com",
            "first_name": "Grace",
            "consent_newsletter": "on",
            "anonymousId": "Y",
        },
    )

    # Then Grace's one contact holds the earlier anonymous activity and the form
    [contact] = tables.contacts()
    assert contact.email == "grace@example.com"
    assert "anon:Y" in contact.actors
    assert tables.contact_for_actor("anon:Y") == contact.contact_id
    message_ids = {a.message_id for a in tables.activities_of(contact)}
    assert {"pv-7", "tr-7", body["messageId"]} <= message_ids
    # and once she confirmed, the welcome program started for her
    assert [e.tags["step_id"] for e in marketing(live)] == ["welcome-1"]
    assert marketing(live)[0].tags["contact_id"] == contact.contact_id
    assert live.errors == []


def test_identifying_again_with_a_new_anonymous_id_joins_it_to_the_same_contact(
    cloud: LocalCloud, tables: Tables
) -> None:
    # Given the site's backend identified Ada on her laptop (anonymousId L); a public identify
    # would not do: the backend's next identify keeps only the browsers it names (README, "Who
    # may change a contact", and test_identity_squatting.py)
    cloud.http(
        "POST",
        "/v1/identify",
        {"anonymousId": "L", "traits": {"email": "ada@example.com"}},
        write_key="local-secret-key",
    )
    # and browsed on her phone (anonymousId P)
    page_view(cloud, "P", "pv-p", "https://example.com/pricing")

    # When she logs in on her phone too, and the site's backend identifies her (a secret key:
    # a public one naming a known contact is only a claim, see test_identity_trust.py)
    cloud.http(
        "POST",
        "/v1/identify",
        {"anonymousId": "P", "traits": {"email": "ADA@example.com"}},
        write_key="local-secret-key",
    )

    # Then both devices belong to one contact, with the phone's page view
    [contact] = tables.contacts()
    assert {"anon:L", "anon:P", "email:ada@example.com"} <= set(contact.actors)
    assert "pv-p" in {a.message_id for a in tables.activities_of(contact)}
    assert cloud.errors == []
