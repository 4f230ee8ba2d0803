"""Content program after a guide download, buying signals and the sales-ready hand-over,
end to end on the local cloud in virtual time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from care import Person, deploy, tasks

from localcloud import LocalCloud

pytestmark = pytest.mark.integration

SALES_PROGRAMS = ("content-program", "buying-signals", "sales-ready")


def download_guide(cloud: LocalCloud, email: str, topic: str = "pricing strategy") -> Person:
    person = Person(cloud, email)
    person.page("https://example.com/guides", "Guides")
    person.form(
        "guide-download", first_name="Ann", company="Acme", guide=topic, consent_marketing="on"
    )
    return person


def test_content_program_without_clicks_sends_lighter_content_then_the_checklist(
    cloud: LocalCloud,
) -> None:
    # Given the content program, and a visitor who downloads the pricing guide
    deploy(cloud, *SALES_PROGRAMS)
    start = cloud.clock.now()
    ann = download_guide(cloud, "ann@example.com")

    # When three weeks pass without a click
    cloud.advance(timedelta(weeks=3))

    # Then: the guide at once, quick tips after a week, the checklist a week later
    assert [(e.subject, e.sent_at - start) for e in ann.emails()] == [
        ("Your guide: pricing strategy", timedelta(0)),
        ("Three quick tips on pricing strategy", timedelta(weeks=1)),
        ("Your pricing strategy checklist", timedelta(weeks=2)),
    ]
    assert ann.branches() == [
        "branch taken at 'clicked-guide': deadline passed",
        "branch taken at 'pricing-interest': to checklist",
    ]
    assert cloud.errors == []


def test_content_program_click_and_pricing_visits_hand_the_lead_to_sales(
    cloud: LocalCloud,
) -> None:
    # Given the content program, and a lead with an assigned salesperson
    deploy(cloud, *SALES_PROGRAMS)
    start = cloud.clock.now()
    ann = download_guide(cloud, "ann@example.com")
    ann.identify(owner="sam@sales.example.com", job_title="CFO")

    # When she clicks the guide email, and looks at prices on two days
    cloud.advance(timedelta(hours=2))
    cloud.click_email(ann.mail("Your guide"))
    ann.page("https://example.com/pricing", "Pricing")
    ann.page("https://example.com/pricing", "Pricing")  # the same day: counted once
    cloud.advance(timedelta(days=1))
    ann.page("https://example.com/pricing", "Pricing")
    cloud.advance(timedelta(weeks=2))

    # Then the click earned the case study at once, and two days of pricing visits (25
    # points each) made her sales-ready: her salesperson heard at once, with what she did
    assert [(e.subject, e.sent_at - start) for e in ann.emails()] == [
        ("Your guide: pricing strategy", timedelta(0)),
        ("How Acme did it: pricing strategy", timedelta(hours=2)),
    ]
    [note] = [e for e in cloud.outbox if e.to == ["sam@sales.example.com"]]
    assert note.subject == "Sales-ready lead: Ann (Acme)"
    assert note.sent_at - start == timedelta(days=1, hours=2)
    assert "ann@example.com" in note.text and "CFO" in note.text
    assert (
        "viewed Pricing" in note.text
        and "clicked https://example.com/case-studies" not in note.text
    )
    assert "clicked https://example.com/articles/next-steps in an email" in note.text
    assert "contact_id" not in note.tags  # the salesperson's opens are not the lead's

    contact = ann.contact()
    assert contact.score == 50 and contact.stage == "sql"
    assert [a.properties["new"] for a in ann.activities("contact.score_changed")] == [25, 50]
    [task] = tasks(cloud, "sam@sales.example.com")
    assert task.title == "Call Ann (sales-ready lead)"
    assert task.contact_id == contact.contact_id
    assert task.due == "2026-01-06T12:00:00.000Z"  # within the hour

    # and the content program, seeing the pricing visits, sent her to sales instead of the
    # checklist; sales-ready (entered already, once per 30 days) did not notify twice
    assert ann.branches() == [
        "branch taken at 'clicked-guide': happened",
        "branch taken at 'pricing-interest': to to-sales",
    ]
    assert len([e for e in cloud.outbox if e.to == ["sam@sales.example.com"]]) == 1
    assert cloud.errors == []


def test_score_crossing_counts_upward_only_and_retries_do_not_double_count(
    cloud: LocalCloud,
) -> None:
    # Given the sales-ready program and a lead already above the threshold
    deploy(cloud, "buying-signals", "sales-ready")
    bob = Person(cloud, "bob@example.com")
    bob.form("newsletter-signup", consent_newsletter="on")
    for _day in range(3):
        bob.page("https://example.com/pricing", "Pricing")
        cloud.advance(timedelta(days=1))
    assert bob.contact().score == 75
    notes = [e for e in cloud.outbox if "Sales-ready" in e.subject]
    assert len(notes) == 1  # crossed 50 once (25 -> 50); 50 -> 75 is no crossing

    # When the score step of an earlier run is retried (same execution and step)
    first = bob.activities("contact.score_changed")[0]
    retry = {
        "action": "score",
        "program_id": "buying-signals",
        "step_id": "viewed-pricing",
        "contact_id": bob.contact().contact_id,
        "execution": first.properties["execution"],
        "params": {"add": 25, "reason": "viewed the pricing page"},
    }
    answer = cloud.invoke("StepsFunction", retry)
    cloud.run_until_idle()

    # Then nothing is counted twice: the retry answers with the first run's result
    assert answer == {"status": "scored", "score": 25}
    assert bob.contact().score == 75
    assert len(bob.activities("contact.score_changed")) == 3
    assert cloud.errors == []
