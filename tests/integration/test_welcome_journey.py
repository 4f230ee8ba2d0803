"""The walking skeleton end to end: a sign-up, confirmed from its double opt-in email,
enrols a contact in the welcome program, which sends welcome-1, waits up to 3 days for a click on it, then sends welcome-2a (clicked)
or welcome-2b (deadline passed). Runs on the local cloud with virtual time."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from localcloud import LocalCloud
from tests.integration.signup import confirm, marketing
from tests.integration.signup import sign_up as sign_up_and_confirm

if TYPE_CHECKING:
    from tests.conftest import Tables

pytestmark = pytest.mark.integration

ADA = {
    "email": "Ada@Example.com ",
    "first_name": "<b>Ada</b>",
    "company": "Analytical Engines",
    "consent_newsletter": "on",
}


def sign_up(cloud: LocalCloud, **extra: str) -> None:
    body = sign_up_and_confirm(cloud, {**ADA, **extra})
    assert body["success"] is True


def step_ids(cloud: LocalCloud) -> list[str]:
    return [email.tags.get("step_id", "?") for email in marketing(cloud)]


def test_signup_sends_welcome_1_personalised_escaped_and_tagged(
    live: LocalCloud, tables: Tables
) -> None:
    # Given the welcome program is live
    # When Ada signs up with HTML in her first name, and confirms
    sign_up(live)

    # Then, after the confirmation, exactly one email went out, to her normalised address
    assert step_ids(live) == ["welcome-1"]
    [email] = marketing(live)
    contact = tables.contact_by_email("ada@example.com")
    assert email.to == ["ada@example.com"]
    assert email.sender == "hello@nurture.local"
    # the subject and the text part are plain text: the name appears as typed
    assert email.subject == "Welcome to Nurture, <b>Ada</b>!"
    assert "Hi <b>Ada</b>," in email.text
    assert "https://example.com/guides/getting-started" in email.text
    # the HTML part escapes it, so a visitor cannot inject markup into our emails
    assert "Hi &lt;b&gt;Ada&lt;/b&gt;," in email.html
    assert "<b>Ada</b>" not in email.html
    assert email.links()[0] == "https://example.com/guides/getting-started"
    # SES tags tie engagement back to the contact, program and step
    assert email.tags["contact_id"] == contact.contact_id
    assert email.tags["program_id"] == "welcome"
    assert email.tags["step_id"] == "welcome-1"
    assert email.configuration_set == live.resolver.refs["EmailConfigurationSet"]
    assert (
        email.configuration_set in live.config_set_topics
    )  # its events reach the engagement topic
    # and the contact holds what the form collected, with consent as proof
    assert contact.first_name == "<b>Ada</b>"
    assert contact.company == "Analytical Engines"
    consent = contact.consent["email:newsletter"]
    assert (consent.status, consent.source) == ("granted", "form:newsletter-signup")
    assert live.errors == []


def test_the_form_alone_sends_only_the_confirmation_and_confirming_starts_welcome(
    live: LocalCloud, tables: Tables
) -> None:
    # When Ada submits the newsletter form, and does not confirm (yet)
    sign_up_and_confirm(live, ADA, confirm_it=False)

    # Then the only email is the confirmation, to her; no marketing, no program
    [confirmation] = live.outbox
    assert confirmation.to == ["ada@example.com"]
    assert confirmation.tags["kind"] == "double_opt_in"
    assert confirmation.tags["purpose"] == "service"
    assert confirmation.subject == "Please confirm your subscription"
    assert marketing(live) == []
    contact = tables.contact_by_email("ada@example.com")
    assert contact.consent["email:newsletter"].status == "pending"
    assert tables.executions("welcome") == []
    # nor does anything follow while she leaves it unconfirmed
    live.advance(timedelta(days=4))
    assert marketing(live) == [] and tables.executions("welcome") == []

    # When she follows the link and presses the button
    confirm(live)

    # Then her consent counts and the welcome program starts at once with welcome-1
    assert step_ids(live) == ["welcome-1"]
    assert marketing(live)[0].sent_at == live.clock.now()
    contact = tables.contact_by_email("ada@example.com")
    assert contact.consent["email:newsletter"].status == "granted"
    [execution] = tables.executions("welcome")
    assert execution["status"] == "RUNNING"
    [entered] = [a for a in tables.activities_of(contact) if a.name == "program.entered"]
    assert entered.properties["program_id"] == "welcome"
    assert live.errors == []


def test_a_click_on_welcome_1_sends_welcome_2a_at_once_and_never_2b(
    live: LocalCloud, tables: Tables
) -> None:
    # Given Ada signed up and received welcome-1
    sign_up(live)
    [welcome_1] = marketing(live)
    contact = tables.contact_by_email("ada@example.com")
    [execution] = tables.executions("welcome")
    assert execution["status"] == "RUNNING"

    # When she clicks its link, with no time passing
    live.click_email(welcome_1)

    # Then welcome-2a goes out at once
    assert step_ids(live) == ["welcome-1", "welcome-2a"]
    welcome_2a = marketing(live)[1]
    assert welcome_2a.sent_at == welcome_1.sent_at == live.clock.now()
    assert welcome_2a.to == ["ada@example.com"]
    assert welcome_2a.subject == "Glad you liked it - here is the next step"
    assert welcome_2a.tags["contact_id"] == contact.contact_id
    assert welcome_2a.tags["program_id"] == "welcome"
    assert "Hi &lt;b&gt;Ada&lt;/b&gt;," in welcome_2a.html
    # the click and both sends are stored as the contact's activity
    names = [
        (a.name, a.properties.get("step_id"))
        for a in tables.activities(f"contact:{contact.contact_id}")
    ]
    assert ("email.clicked", "welcome-1") in names
    assert ("email.sent", "welcome-1") in names
    assert ("email.sent", "welcome-2a") in names
    # and the program has finished
    [execution] = tables.executions("welcome")
    assert execution["status"] == "SUCCEEDED"
    assert any(e.what == "program 'welcome' finished" for e in live.timeline)

    # And even when the 3-day deadline has long passed, welcome-2b never goes out
    live.advance(timedelta(days=4))
    assert step_ids(live) == ["welcome-1", "welcome-2a"]
    assert live.errors == []


def test_without_a_click_welcome_2b_goes_out_exactly_at_the_3_day_deadline(
    live: LocalCloud, tables: Tables
) -> None:
    # Given Ada signed up and received welcome-1
    sign_up(live)
    [welcome_1] = marketing(live)

    # When almost 3 days pass without a click
    live.advance(timedelta(days=3) - timedelta(seconds=1))
    # Then nothing more was sent yet
    assert step_ids(live) == ["welcome-1"]
    [execution] = tables.executions("welcome")
    assert execution["status"] == "RUNNING"

    # When the rest of the 4 days pass
    live.advance(timedelta(days=1, seconds=1))

    # Then welcome-2b went out at the deadline, and welcome-2a never did
    assert step_ids(live) == ["welcome-1", "welcome-2b"]
    welcome_2b = marketing(live)[1]
    assert welcome_2b.sent_at == welcome_1.sent_at + timedelta(days=3)
    assert welcome_2b.subject == "In a hurry? The two-minute version"
    assert welcome_2b.tags["contact_id"] == tables.contact_by_email("ada@example.com").contact_id
    assert welcome_2b.configuration_set == live.resolver.refs["EmailConfigurationSet"]
    [execution] = tables.executions("welcome")
    assert execution["status"] == "SUCCEEDED"
    assert any(e.what == "program 'welcome' finished" for e in live.timeline)
    assert live.errors == []


def test_a_click_after_the_deadline_changes_nothing(live: LocalCloud) -> None:
    # Given Ada did not click for 4 days and received welcome-2b
    sign_up(live)
    welcome_1 = marketing(live)[0]
    live.advance(timedelta(days=4))
    assert step_ids(live) == ["welcome-1", "welcome-2b"]

    # When she finally clicks welcome-1
    live.click_email(welcome_1)
    live.advance(timedelta(days=1))

    # Then no welcome-2a follows: that branch was decided at the deadline
    assert step_ids(live) == ["welcome-1", "welcome-2b"]
    assert live.errors == []


def test_signing_up_twice_enrols_once(live: LocalCloud, tables: Tables) -> None:
    # Given Ada signed up
    sign_up(live)

    # When she submits the form again a minute later
    live.advance(timedelta(minutes=1))
    sign_up(live)

    # Then both submissions are stored, but she is one contact who got one welcome-1
    forms = [a for a in tables.visitor_activities() if a.kind == "form"]
    assert len(forms) == 2
    assert len(tables.contacts()) == 1
    assert step_ids(live) == ["welcome-1"]
    assert len(tables.executions("welcome")) == 1
    assert live.errors == []
