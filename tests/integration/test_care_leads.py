"""Lead programs end to end on the local cloud in virtual time: re-activation of cold leads
(with its "no thanks"), and the event journey from registration to the coordinator's call."""

from __future__ import annotations

from datetime import timedelta

import pytest
from care import Person, deploy, tasks

from localcloud import LocalCloud

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)


def lead(cloud: LocalCloud, email: str) -> Person:
    person = Person(cloud, email)
    person.page("https://example.com/guides", "Guides")
    person.form("guide-download", first_name="Ann", guide="budgeting", consent_marketing="on")
    return person


def test_cold_leads_get_a_slow_loop_and_no_thanks_ends_it(cloud: LocalCloud) -> None:
    # Given re-activation (and the content program leads get when they download a guide)
    deploy(cloud, "reactivation", "content-program")
    start = cloud.clock.now()
    ann, bob = lead(cloud, "ann@example.com"), lead(cloud, "bob@example.com")
    cloud.advance(DAY * 30)

    # When they go quiet for 90 days, Ann answers "no thanks", and Bob never answers
    cloud.advance(DAY * 62)
    reactivation = [e for e in ann.emails() if e.subject.startswith("Still interested")]
    [first] = reactivation
    assert first.sent_at - start == DAY * 91 - timedelta(hours=1)  # swept 05:00, sent 08:00
    cloud.click_email(first, "https://example.com/no-thanks")
    cloud.advance(DAY * 120)

    # Then Ann's loop ended at once, tagged so she is never asked again
    assert [e.subject for e in ann.emails() if e.sent_at - start > DAY * 60] == [
        "Still interested, Ann?"
    ]
    assert "no-thanks" in ann.contact().tags
    assert ann.branches()[-2:] == [
        "branch taken at 'answer-1': happened",
        "branch taken at 'yes-or-no': to no-thanks",
    ]
    # and Bob got three notes a month apart, then the program let him rest
    bob_notes = [e for e in bob.emails() if e.sent_at - start > DAY * 60]
    assert [(e.subject, e.sent_at - start) for e in bob_notes] == [
        ("Still interested, Ann?", DAY * 91 - timedelta(hours=1)),
        ("What changed since you last visited", DAY * 121 - timedelta(hours=1)),
        ("Last note from us (unless you say otherwise)", DAY * 151 - timedelta(hours=1)),
    ]
    assert "program 'reactivation' finished" in bob.timeline()
    assert len(bob.activities("program.entered")) == 2  # content program, re-activation once
    assert cloud.errors == []


def test_a_click_brings_a_cold_lead_back_to_content_and_scoring(cloud: LocalCloud) -> None:
    deploy(cloud, "reactivation", "content-program")
    ann = lead(cloud, "ann@example.com")
    cloud.advance(DAY * 122)
    [second] = [e for e in ann.emails() if e.subject.startswith("What changed")]

    # When she clicks "see what is new" in the second note
    cloud.click_email(second, "https://example.com/whats-new")
    cloud.advance(DAY * 2)

    # Then she earns points and the content program starts again, with a new guide email
    assert ann.contact().score == 25
    assert [s for s in ann.subjects() if s.startswith("Your guide")] == [
        "Your guide: budgeting",
        "Your guide: budgeting",
    ]
    assert "branch taken at 'yes-or-no': to welcome-back" in ann.branches()
    assert cloud.errors == []


def test_event_journey_from_registration_to_the_coordinators_call(cloud: LocalCloud) -> None:
    # Given the event journey, and a registration for a seminar on 15 January at 17:00
    # Helsinki time (15:00 UTC), ten days ahead
    deploy(cloud, "event-invitation", "content-program")
    start = cloud.clock.now()
    eve = Person(cloud, "eve@example.com")
    eve.form(
        "event-registration",
        first_name="Eve",
        phone="+358401234567",
        event_name="Pricing Day 2026",
        event_start="2026-01-15T17:00:00+02:00",
        event_venue="Congress Hall",
        consent_marketing="on",
    )

    # When the event passes and she downloads the slides the day after
    cloud.advance(DAY * 11 + timedelta(hours=3))  # 16 January 12:00 UTC
    eve.track("slides_downloaded", title="Pricing Day 2026")
    cloud.advance(DAY * 2)

    # Then: confirmation at once, a reminder two days before, directions by SMS on the
    # morning of the day, the slides the day after, and a call task for the coordinator
    assert [(e.subject, e.sent_at.isoformat()) for e in eve.emails()][:4] == [
        ("You are registered: Pricing Day 2026", "2026-01-05T09:00:00+00:00"),
        ("In two days: Pricing Day 2026", "2026-01-13T15:00:00+00:00"),
        ("Slides and photos from Pricing Day 2026", "2026-01-16T10:00:00+00:00"),
        ("Your guide: the guide", "2026-01-16T12:00:00+00:00"),
    ]
    [sms] = [s for s in cloud.sms_outbox if s.to == "+358401234567"]
    assert sms.sent_at.isoformat() == "2026-01-15T08:00:00+00:00"
    assert "Congress Hall" in sms.text and "https://events.example.com/directions" in sms.text
    [call] = tasks(cloud, "coordinator")
    assert call.title == "Call Eve who downloaded the slides of Pricing Day 2026"
    assert call.due == "2026-01-18T12:00:00.000Z"
    assert eve.branches() == ["branch taken at 'slides-downloaded': happened"]
    assert start.isoformat() == "2026-01-05T09:00:00+00:00"
    assert cloud.errors == []
