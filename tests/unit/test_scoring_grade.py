"""The fit grade (contact and account), recomputed when a field changes; the MQL crossing;
and explanations that say why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from scoring_support import World, model

from nurture.accounts.model import Account
from nurture.scoring.fit import account_from_profile
from nurture.tracking.events import Activity

pytestmark = pytest.mark.unit

B2B = yaml.safe_load((Path(__file__).resolve().parents[2] / "scoring" / "b2b.yaml").read_text())
SMALL = model(
    """
id: small
name: Small
decay: {half_life: 30 days}
behaviour:
  - {id: demo, event: demo_requested, points: 40, reason: requested a demo}
  - {id: pricing, event: page, where: {url: {glob: "*/pricing*"}}, points: 15, reason: viewed pricing}
grade:
  rules:
    - {id: senior, when: {field: job_title, regex: "(?i)vp|director"}, points: 40, reason: senior}
    - {id: industry, when: {field: account.industry, eq: software}, points: 20, reason: software}
    - {id: size, when: {field: account.employees, gte: 100}, points: 20, reason: "100+ people"}
  thresholds: {A: 80, B: 60, C: 40, D: 20}
mql: {behaviour: 50, grade: B}
"""
)


def profile_update(world: World, **traits: object) -> Activity:
    """What react does on an identify: the profile changes, then scoring sees the activity."""
    contact = world.contact
    for name, value in traits.items():
        if name.startswith("fields."):
            contact.fields[name.removeprefix("fields.")] = value
        else:
            setattr(contact, name, value)
    world.contacts.save(contact)
    return world.do("identify", "identify")


def test_grade_is_recomputed_when_a_field_changes() -> None:
    world = World(SMALL, job_title="Analyst")
    try:
        profile_update(world, **{"fields.industry": "software"})
        assert world.contact.grade == "D"  # 20 points: software
        profile_update(world, job_title="VP Marketing")
        assert world.contact.grade == "B"  # 60
        changes = [
            (a.properties["from"], a.properties["to"])
            for a in world.recorded("contact.grade_changed")
        ]
        assert changes == [(None, "D"), ("D", "B")]
        # a field change recorded by the runtime (a replaced value) regrades too
        contact = world.contact
        contact.job_title = "Student"
        world.contacts.save(contact)
        world.do("contact", "contact.field_changed", fields=["job_title"])
        assert world.contact.grade == "D"
    finally:
        world.close()


def test_grade_reads_the_account_from_group_calls_or_the_profile() -> None:
    world = World(SMALL, job_title="Director of Sales", company="Acme")
    try:
        # no account: the profile's custom fields describe the company
        profile_update(world, **{"fields.employees": "250"})
        assert world.contact.grade == "B"  # senior 40 + 250 people 20
        # the contact joins an account (a Segment group call): its traits win
        world.contacts.accounts["acct-1"] = Account(
            account_id="acct-1",
            created_at="2026-01-01T00:00:00.000Z",
            updated_at="2026-01-01T00:00:00.000Z",
            industry="software",
            employees=900,
        )
        profile_update(world, account_id="acct-1")
        assert world.contact.grade == "A"
        reasons = world.scorer.explain(world.contact_id)["reasons"]
        assert {r["rule"] for r in reasons if r["kind"] == "fit"} == {"senior", "industry", "size"}
    finally:
        world.close()


def test_account_from_profile_fields() -> None:
    world = World(SMALL, company="Acme", country="DE")
    try:
        contact = world.contact
        contact.fields.update(industry="Software", company_size="1,200")
        account = account_from_profile(contact)
        assert account == {
            "name": "Acme",
            "industry": "Software",
            "employees": 1200,
            "country": "DE",
            "domain": "acme.example",
            "plan": None,
        }
    finally:
        world.close()


def test_crossing_the_mql_rule_sets_the_stage_once_and_says_why() -> None:
    world = World(SMALL, job_title="VP Sales")
    try:
        profile_update(world, **{"fields.industry": "software"})  # grade B
        world.page("https://acme.example/pricing")  # 15
        assert world.contact.stage == "lead"
        world.clock.advance(timedelta(hours=1))
        world.do("track", "demo_requested")  # 55 -> MQL
        contact = world.contact
        assert contact.stage == "mql" and contact.score == 55 and contact.grade == "B"
        [stage] = world.recorded("contact.stage_changed")
        assert stage.properties == {
            "from": "lead",
            "to": "mql",
            "reason": "mql: behaviour >= 50 and grade B or better",
            "model": "small",
        }
        [mql] = world.recorded("lead.mql")
        assert mql.properties["behaviour"] == 55 and mql.properties["grade"] == "B"
        # newest first: the demo request, then pricing, then the fit rules
        assert mql.properties["reasons"] == [
            "requested a demo",
            "viewed pricing",
            "senior",
            "software",
        ]
        # above the line already: more activity is no new crossing
        world.clock.advance(timedelta(days=2))
        world.page("https://acme.example/pricing")
        assert len(world.recorded("lead.mql")) == 1
    finally:
        world.close()


def test_no_mql_below_the_grade_or_further_along() -> None:
    world = World(SMALL, job_title="Engineer")
    try:
        world.do("track", "demo_requested")
        world.page("https://acme.example/pricing")
        assert world.contact.score == 55 and world.contact.stage == "lead"  # grade F
        assert world.recorded("lead.mql") == []
    finally:
        world.close()
    customer = World(SMALL, job_title="VP")
    try:
        contact = customer.contact
        contact.stage = "customer"
        customer.contacts.save(contact)
        profile_update(customer, **{"fields.industry": "software"})
        customer.do("track", "demo_requested")
        customer.page("https://acme.example/pricing")
        assert customer.contact.stage == "customer"
    finally:
        customer.close()


def test_shipped_b2b_model_grades_and_qualifies_a_realistic_lead() -> None:
    world = World(B2B, job_title="Head of Marketing", company="Acme", country="GB")
    try:
        profile_update(world, **{"fields.industry": "SaaS", "fields.employees": 120})
        assert world.contact.grade == "A"  # 30 + 20 + 20 + 15 = 85
        world.page("https://acme.example/blog/why-nurture")
        world.page("https://acme.example/solutions/b2b")
        world.page("https://acme.example/case-studies/globex")
        world.page("https://acme.example/pricing")
        world.page("https://acme.example/careers")
        assert world.contact.score == 1 + 5 + 8 + 15 - 10
        assert world.contact.stage == "lead"
        world.do("track", "demo_requested")
        assert world.contact.stage == "mql"
        lines = world.scorer.explanation(world.contact_id).lines()  # type: ignore[union-attr]
        assert lines[1].startswith("behaviour score 59")
        assert "requested a demo [demo-request]" in lines[4]
    finally:
        world.close()
