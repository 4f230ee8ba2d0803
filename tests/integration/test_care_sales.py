"""The content program after a guide download, and the hand-over to sales on the b2b scoring
model (scoring/b2b.yaml) with the reworked sales-ready program, end to end on the local cloud
in virtual time. (`buying-signals` is retired: the model scores pricing visits inline.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from care import Person, deploy, tasks

from localcloud import LocalCloud
from localcloud.cloud import CapturedEmail

pytestmark = pytest.mark.integration

SALES_PROGRAMS = ("content-program", "sales-ready")


def deploy_sales(cloud: LocalCloud) -> None:
    """The programs, and the b2b scoring model (synced with them)."""
    cloud.sync_content(only=["b2b"])
    deploy(cloud, *SALES_PROGRAMS)


def download_guide(cloud: LocalCloud, email: str, topic: str = "pricing strategy") -> Person:
    person = Person(cloud, email)
    person.page("https://example.com/guides", "Guides")
    person.form(
        "guide-download", first_name="Ann", company="Acme", guide=topic, consent_marketing="on"
    )
    return person


def program_emails(person: Person) -> list[CapturedEmail]:
    """What the programs sent (the form's double opt-in confirmation aside)."""
    return [e for e in person.emails() if e.subject != "Please confirm your subscription"]


def crm_identify(cloud: LocalCloud, person: Person, **traits: object) -> None:
    """What the CRM knows, sent from a server (the secret write key may change a contact)."""
    status, _, answer = cloud.http(
        "POST",
        "/v1/identify",
        {"userId": f"crm-{person.email}", "traits": {"email": person.email, **traits}},
        write_key="local-secret-key",
    )
    assert status == 200, answer


def test_content_program_without_clicks_sends_lighter_content_then_the_checklist(
    cloud: LocalCloud,
) -> None:
    # Given the content program, and a visitor who downloads the pricing guide
    deploy_sales(cloud)
    start = cloud.clock.now()
    ann = download_guide(cloud, "ann@example.com")

    # When three weeks pass without a click
    cloud.advance(timedelta(weeks=3))

    # Then: the guide at once, quick tips after a week, the checklist a week later
    assert [(e.subject, e.sent_at - start) for e in program_emails(ann)] == [
        ("Your guide: pricing strategy", timedelta(0)),
        ("Three quick tips on pricing strategy", timedelta(weeks=1)),
        ("Your pricing strategy checklist", timedelta(weeks=2)),
    ]
    assert ann.branches() == [
        "branch taken at 'clicked-guide': deadline passed",
        "branch taken at 'pricing-interest': to checklist",
    ]
    # a guide download alone is interest, not buying intent
    assert ann.contact().score == 10 and ann.contact().stage == "subscriber"
    assert cloud.errors == []


def test_a_warming_lead_becomes_an_mql_and_sales_hears_at_once_with_a_call_task(
    cloud: LocalCloud,
) -> None:
    # Given the content program, the b2b model and a lead the CRM knows (grade A)
    deploy_sales(cloud)
    start = cloud.clock.now()
    ann = download_guide(cloud, "ann@example.com")  # +10
    crm_identify(
        cloud,
        ann,
        owner="sam@sales.example.com",
        job_title="CFO",
        industry="software",
        employees=400,
        country="GB",
    )

    # When she clicks the guide email, looks at prices and a case study, and next day
    # comes back to pricing
    cloud.advance(timedelta(hours=2))
    cloud.click_email(ann.mail("Your guide"))  # +3
    ann.page("https://example.com/pricing", "Pricing")  # +15
    ann.page("https://example.com/pricing", "Pricing")  # the same day: counted once
    ann.page("https://example.com/case-studies/globex", "Globex")  # +8
    assert ann.contact().stage == "subscriber"
    cloud.advance(timedelta(days=1))
    ann.page("https://example.com/pricing", "Pricing")  # +15: 50 (a little decayed), grade A
    mql_at = cloud.clock.now()
    cloud.advance(timedelta(weeks=2))

    # Then she became an MQL at once, her owner was emailed with the reasons, and the
    # sales-ready program (on the stage change) gave the owner a call task due in an hour
    contact = ann.contact()
    assert contact.stage == "mql" and contact.grade == "A" and contact.score == 50
    [note] = [e for e in cloud.outbox if e.to == ["sam@sales.example.com"]]
    assert note.sent_at == mql_at
    assert note.subject == "Sales-ready lead: Ann (Acme)"
    why = note.text.split("Why:")[1].split("What they did")[0]
    assert [line.strip() for line in why.strip().splitlines()] == [
        "- +15 viewed the pricing page",
        "- +8 read a case study",
        "- +15 viewed the pricing page",
        "- +3 clicked a link in an email",
        "- +10 downloaded a guide",
        "- +30 decision-maker role",
        "- +20 target industry",
        "- +20 50 or more employees",
        "- +15 a country we sell in",
    ]
    [task] = tasks(cloud, "sam@sales.example.com")
    assert task.title.startswith("Call Ann (new MQL, score ")
    assert task.contact_id == contact.contact_id
    assert task.due == (mql_at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    # and the content program sent the case study for the click, and no checklist to someone
    # who looked at prices
    assert [(e.subject, e.sent_at - start) for e in program_emails(ann)] == [
        ("Your guide: pricing strategy", timedelta(0)),
        ("How Acme did it: pricing strategy", timedelta(hours=2)),
    ]
    assert ann.branches() == [
        "branch taken at 'clicked-guide': happened",
        "branch taken at 'pricing-interest': to done",
    ]
    assert cloud.errors == []


WARM = """id: warm
name: Tag warm leads
trigger:
  score_crossed: 30
entry: every_time
steps:
  - id: tag
    type: update_contact
    add_tags: [warm]
"""


def test_score_crossed_triggers_fire_on_model_scores_upward_only(cloud: LocalCloud) -> None:
    # Given the b2b model and a program on the score crossing 30 upward
    cloud.sync_content(only=["b2b"])
    cloud.upload("programs/warm.yaml", WARM)
    bob = Person(cloud, "bob@example.com")
    bob.form("newsletter-signup", consent_newsletter="on")

    # When his pricing visits (15 a day) take him to 30; a day later he has decayed to 29
    # and the next visit takes him up across 30 again
    bob.page("https://example.com/pricing", "Pricing")
    cloud.advance(timedelta(days=1))
    bob.page("https://example.com/pricing", "Pricing")
    cloud.advance(timedelta(days=1))
    bob.page("https://example.com/pricing", "Pricing")
    changes = [
        (a.properties["old"], a.properties["new"]) for a in bob.activities("contact.score_changed")
    ]
    assert changes == [(0, 15), (15, 30), (29, 44)]

    # Then each upward crossing entered the program (decay alone records nothing)
    def entries() -> int:
        entered = bob.activities("program.entered")
        return len([a for a in entered if a.properties["program_id"] == "warm"])

    assert entries() == 2 and bob.contact().tags == ["warm"]
    cloud.advance(timedelta(days=40))  # 44 fades to about 17.5
    assert entries() == 2
    bob.page("https://example.com/pricing", "Pricing")  # 17.5 -> 32.5: up across 30
    assert entries() == 3
    bob.page("https://example.com/careers", "Careers")  # -10: down across 30, no entry
    assert entries() == 3
    assert cloud.errors == []
