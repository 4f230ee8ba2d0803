"""The program runtime on the local cloud: entry rules, segment selections and automation
rules, stage triggers, A/B splits, wait_until and step retries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from care import Person

from localcloud import LocalCloud
from nurture.adapters.dynamodb import DynamoContacts

pytestmark = pytest.mark.integration

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def upload(cloud: LocalCloud, source: str) -> None:
    program_id = source.split("id: ", 1)[1].split("\n", 1)[0].strip()
    cloud.upload(f"programs/{program_id}.yaml", source)
    status = json.loads(cloud.read(f"programs/{program_id}.status.json") or "{}")
    assert status.get("status") == "live", status


def subscriber(cloud: LocalCloud, email: str, **fields: str) -> Person:
    person = Person(cloud, email)
    person.form("newsletter-signup", consent_newsletter="on", **fields)
    return person


LONG_RUN = """\
id: demo-every-time
name: Every time, one run at a time
trigger: {event: demo_requested}
entry: every_time
steps:
  - {id: hello, type: send_email, template: welcome-1, purpose: service}
  - {id: a-day, type: wait, duration: 1 day}
  - {id: bye, type: send_email, template: welcome-2a, purpose: service}
"""


def test_every_time_enters_once_per_trigger_but_never_twice_at_once(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, LONG_RUN)
    ann = subscriber(cloud, "ann@example.com")

    # When she asks for a demo twice within the day (the run still going), then again later
    ann.track("demo_requested")
    cloud.advance(HOUR)
    ann.track("demo_requested")
    cloud.advance(2 * DAY)
    ann.track("demo_requested")
    cloud.advance(2 * DAY)

    # Then two runs, one after the other, each with its own execution name
    entered = ann.activities("program.entered")
    assert len(entered) == 2
    names = [a.properties["execution"] for a in entered]
    assert len(set(names)) == 2 and all(n.endswith(ann.contact().contact_id) for n in names)
    assert len(ann.subjects()) == 4
    enrolment = ann.enrolment("demo-every-time")
    assert enrolment is not None and enrolment.entries == 2


def test_a_redelivered_trigger_does_not_enrol_twice(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, LONG_RUN.replace("entry: every_time", "entry: {once_per: 1 hour}"))
    ann = subscriber(cloud, "ann@example.com")
    ann.track("demo_requested")
    cloud.advance(2 * DAY)
    [entered] = ann.activities("program.entered")

    # When the stream hands React the same activity again (a retried batch)
    [trigger] = ann.activities("demo_requested")
    cloud.invoke(
        "ReactFunction",
        {
            "Records": [
                {
                    "eventID": "1",
                    "eventName": "INSERT",
                    "dynamodb": {
                        "SequenceNumber": "1",
                        "NewImage": {"doc": {"S": trigger.model_dump_json()}},
                    },
                }
            ]
        },
    )
    cloud.advance(2 * DAY)

    # Then nothing new: the same entry, the same execution name
    assert [a.message_id for a in ann.activities("program.entered")] == [entered.message_id]
    assert len(ann.subjects()) == 2


SEGMENT = """\
id: vip-offer
name: One-time selection of VIPs
trigger:
  segment: {has_tag: vip}
steps:
  - {id: offer, type: send_email, template: welcome-1, purpose: service}
"""


def test_a_segment_selects_who_matches_at_deploy_once(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    ann = subscriber(cloud, "ann@example.com")
    bob = subscriber(cloud, "bob@example.com")
    contacts = DynamoContacts(cloud.client("dynamodb"), str(cloud.resolver.refs["ContactsTable"]))
    contacts.apply_once(ann.contact().contact_id, "test-tag", lambda c: c.tags.append("vip") or {})

    # When the program is deployed, then Bob becomes a VIP too, and a day passes
    upload(cloud, SEGMENT)
    contacts.apply_once(bob.contact().contact_id, "test-tag", lambda c: c.tags.append("vip") or {})
    bob.track("anything")
    cloud.advance(2 * DAY)

    # Then only Ann was selected: a one-time selection does not take later matches
    assert len(ann.subjects()) == 1 and bob.subjects() == []

    # And redeploying selects again, but Ann (entry once) does not get it twice
    upload(cloud, SEGMENT.replace("One-time selection", "One-time selection, fixed"))
    assert len(ann.subjects()) == 1 and len(bob.subjects()) == 1


def test_an_automation_rule_takes_who_matches_now_and_later(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    ann = subscriber(cloud, "ann@example.com", company="Acme")
    bob = subscriber(cloud, "bob@example.com")

    # When an automation rule for companies is deployed and Bob later names his company
    upload(
        cloud,
        SEGMENT.replace("id: vip-offer", "id: company-rule").replace(
            "{has_tag: vip}", "{field: company, exists: true}\n  once: false"
        ),
    )
    assert len(ann.subjects()) == 1 and bob.subjects() == []
    bob.identify(company="Bobco")
    cloud.advance(DAY)

    # Then both are in, each once, even as they go on matching
    ann.track("anything")
    cloud.advance(DAY)
    assert len(ann.subjects()) == 1 and len(bob.subjects()) == 1


STAGES = """\
id: new-customers
name: Stage change to customer
trigger:
  stage_changed: {from: [lead, sql], to: customer}
steps:
  - {id: hello, type: send_email, template: welcome-1, purpose: service}
"""


def test_stage_changed_trigger_checks_from_and_to(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, STAGES)
    ann = subscriber(cloud, "ann@example.com")
    bob = subscriber(cloud, "bob@example.com")

    # When Ann goes lead -> customer, Bob subscriber -> customer
    ann.identify(stage="lead")
    ann.identify(stage="customer")
    bob.identify(stage="customer")

    # Then only Ann's change matches
    assert len(ann.subjects()) == 1 and bob.subjects() == []
    changes = {
        (a.properties["from"], a.properties["to"]) for a in ann.activities("contact.stage_changed")
    }
    assert changes == {("subscriber", "lead"), ("lead", "customer")}


SPLIT = """\
id: ab-test
name: A/B test
trigger: {event: demo_requested}
steps:
  - id: which
    type: split
    variants:
      - {name: A, percent: 50, next: a}
      - {name: B, percent: 30, next: b}
      - {name: holdout, percent: 20, next: done}
  - {id: a, type: send_email, template: welcome-2a, purpose: service, next: done}
  - {id: b, type: send_email, template: welcome-2b, purpose: service, next: done}
  - {id: done, type: end}
"""


def test_split_sends_each_contact_down_one_stable_variant(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, SPLIT)
    people = [subscriber(cloud, f"p{i}@example.com") for i in range(30)]
    for person in people:
        person.track("demo_requested")
    chosen = {p.email: p.activities("program.split")[0].properties["variant"] for p in people}
    counts = {v: list(chosen.values()).count(v) for v in ("A", "B", "holdout")}
    assert sum(counts.values()) == 30 and all(counts.values())
    for person in people:
        expected = {"A": 1, "B": 1, "holdout": 0}[chosen[person.email]]
        assert len(person.emails()) == expected
    assert cloud.errors == []


WAIT_UNTIL = """\
id: renewal-reminder
name: Thirty days before the renewal date
trigger: {event: contract_signed}
steps:
  - {id: month-before, type: wait_until, field: renewal_date, offset: 30 days before}
  - {id: remind, type: send_email, template: welcome-1, purpose: service}
"""


def test_wait_until_a_field_date_and_stop_without_one(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, WAIT_UNTIL)
    start = cloud.clock.now()
    ann = subscriber(cloud, "ann@example.com")
    bob = subscriber(cloud, "bob@example.com")
    ann.identify(renewal_date="2026-03-31")

    # When both sign, and Bob has no renewal date
    ann.track("contract_signed")
    bob.track("contract_signed")
    cloud.advance(60 * DAY)

    # Then Ann's reminder comes 30 days before her date (09:00), Bob's run stops at once
    [reminder] = ann.emails()
    assert reminder.sent_at.isoformat() == "2026-03-01T09:00:00+00:00"
    assert bob.emails() == []
    [stopped] = bob.activities("program.stopped")
    assert "renewal_date" in stopped.properties["reason"]
    assert "branch taken at 'month-before': stopped" in bob.branches()
    assert start.isoformat().startswith("2026-01-05")


FAR_DATE = """\
id: contract-end
name: A year and a half ahead
trigger: {event: contract_signed}
steps:
  - {id: until-the-end, type: wait_until, field: contract_end, offset: 30 days before}
  - {id: remind, type: send_email, template: welcome-1, purpose: service}
"""


def test_wait_until_far_ahead_resumes_through_a_schedule(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, FAR_DATE)
    ann = subscriber(cloud, "ann@example.com")
    ann.identify(contract_end="2027-08-31")
    ann.track("contract_signed")

    # When the date is 19 months ahead (longer than one execution should wait)
    cloud.advance(600 * DAY)

    # Then the run waited through a one-time schedule and reminded her on time
    [reminder] = ann.emails()
    assert reminder.sent_at.isoformat() == "2027-08-01T09:00:00+00:00"
    assert any("resumed by schedule" in e.what for e in cloud.timeline)
    assert cloud.errors == []


CONDITION_GOAL = """\
id: to-customer
name: Nurture until they become a customer
trigger: {event: demo_requested}
goals:
  - {name: became a customer, when: {field: stage, gte: customer}}
steps:
  - {id: first, type: send_email, template: welcome-1, purpose: service}
  - {id: a-week, type: wait, duration: 7 days}
  - {id: second, type: send_email, template: welcome-2a, purpose: service}
"""


def test_a_condition_goal_ends_the_run_when_it_comes_true(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, CONDITION_GOAL)
    ann = subscriber(cloud, "ann@example.com")
    ann.track("demo_requested")
    cloud.advance(DAY)

    # When the CRM makes her a customer
    ann.identify(stage="customer")
    cloud.advance(10 * DAY)

    # Then the run ended as converted before its second email
    assert len(ann.emails()) == 1
    [converted] = ann.activities("program.converted")
    assert converted.properties["goal"] == "became a customer"
    assert converted.properties["by"] == "identify"  # the CRM call that changed the stage


RENEWAL = """\
id: renewal
name: Thirty days before the contract renewal
trigger:
  date: renewal_date
  repeat: once
  offset: 30 days before
steps:
  - {id: remind, type: send_email, template: welcome-1, purpose: service}
"""


def test_a_date_trigger_fires_once_n_days_before_a_field_date(cloud: LocalCloud) -> None:
    cloud.sync_content(only=[])
    upload(cloud, RENEWAL)
    ann = subscriber(cloud, "ann@example.com")
    bob = subscriber(cloud, "bob@example.com")
    ann.identify(renewal_date="2026-03-10", timezone="America/New_York")
    bob.identify(renewal_date="2025-03-10")  # already past: never

    # When the daily sweeps run past the date
    cloud.advance(90 * DAY)

    # Then Ann entered on 8 February (her local date), once; Bob never
    [entered] = ann.activities("program.entered")
    assert entered.occurred_at.startswith("2026-02-08T05:00")  # the 05:00 UTC sweep
    assert len(ann.emails()) == 1 and bob.emails() == []
