"""Behaviour rules: once, every time, once per period, the daily cap, negative points, and
scoring nothing unless a rule says so."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from scoring_support import World, model

pytestmark = pytest.mark.unit

RULES = model(
    """
id: rules
name: Rules under test
behaviour:
  - id: demo
    event: demo_requested
    points: 40
    frequency: once
    reason: requested a demo
  - id: pricing
    event: page
    where: {url: {glob: "*/pricing*"}}
    points: 10
    frequency: {once_per: 1 day}
    reason: viewed pricing
  - id: case-study
    event: page
    where: {url: {glob: "*/case-studies/*"}}
    points: 8
    daily_cap: 20
    reason: read a case study
  - id: webinar
    event: webinar_attended
    points: 5
    reason: attended a webinar
  - id: careers
    event: page
    where: {url: {glob: "*/careers*"}}
    points: -10
    reason: looked at jobs
  - id: unsubscribed
    event: consent.withdrawn
    points: -50
    frequency: once
    reason: unsubscribed
"""
)


@pytest.fixture
def world() -> Iterator[World]:
    w = World(RULES)
    yield w
    w.close()


def test_once_per_contact_scores_the_first_time_only(world: World) -> None:
    world.do("track", "demo_requested")
    world.clock.advance(timedelta(days=40))
    world.do("track", "demo_requested")
    assert world.contact.score == 40
    assert [a.properties["rules"] for a in world.recorded("contact.score_changed")] == [["demo"]]


def test_every_time_scores_each_activity(world: World) -> None:
    for _ in range(3):
        world.do("track", "webinar_attended")
    assert world.contact.score == 15
    assert [
        (a.properties["old"], a.properties["new"]) for a in world.recorded("contact.score_changed")
    ] == [
        (0, 5),
        (5, 10),
        (10, 15),
    ]


def test_once_per_period_waits_out_the_period(world: World) -> None:
    world.page("https://acme.example/pricing")
    world.clock.advance(timedelta(hours=23, minutes=59))
    world.page("https://acme.example/pricing")  # inside the day: nothing
    assert world.contact.score == 10
    world.clock.advance(timedelta(minutes=1))
    world.page("https://acme.example/pricing?plan=team")  # a day after the first: again
    assert world.contact.score == 20


def test_daily_cap_limits_a_rule_per_day_and_resets_the_next_day(world: World) -> None:
    for n in range(4):
        world.page(f"https://acme.example/case-studies/{n}")
    # 8 + 8 + 4 (the cap of 20 reached) + 0
    assert world.contact.score == 20
    assert [a.properties["delta"] for a in world.recorded("contact.score_changed")] == [8, 8, 4]
    world.clock.advance(timedelta(days=1))
    world.page("https://acme.example/case-studies/5")
    assert world.contact.score == 28


def test_negative_points_take_the_score_down(world: World) -> None:
    world.do("track", "demo_requested")
    world.page("https://acme.example/careers/engineer")
    world.page("https://acme.example/careers")
    assert world.contact.score == 20
    world.do("consent", "consent.withdrawn", keys=["email:newsletter"])
    world.do("consent", "consent.withdrawn", keys=["email:offers"])  # once: -50 only once
    assert world.contact.score == -30
    [last] = world.recorded("contact.score_changed")[-1:]
    assert last.properties == {
        "old": 20,
        "new": -30,
        "delta": -50,
        "reason": "unsubscribed",
        "rules": ["unsubscribed"],
        "behaviour": -30.0,
        "model": "rules",
    }


def test_nothing_scores_unless_a_rule_says_so(world: World) -> None:
    before = world.contacts.get(world.contact_id)
    world.page("https://acme.example/blog/newsletter-issue-12")
    world.do("email", "email.opened")
    world.do("track", "newsletter_read")
    assert world.contact == before  # not even written
    assert world.contacts.applied == {}
    assert world.recorded("contact.score_changed") == []


def test_what_scoring_records_is_never_scored(world: World) -> None:
    world.do("contact", "contact.score_changed", old=0, new=5)
    world.do("lead", "lead.mql")
    assert world.contacts.applied == {}


def test_a_retried_activity_counts_nothing_twice(world: World) -> None:
    activity = world.activity("track", "webinar_attended")
    for _ in range(3):  # the stream delivers the same record again, and again
        world.scorer.on_activity(world.contact, activity)
    assert world.contact.score == 5
    assert len(world.recorded("contact.score_changed")) == 1


def test_late_events_count_from_when_they_happened() -> None:
    late = model(
        """
id: late
name: Late events
decay: {half_life: 10 days}
behaviour:
  - {id: visit, event: visit, points: 16}
"""
    )
    world = World(late)
    try:
        early = world.activity("track", "visit")  # happened now...
        world.clock.advance(timedelta(days=10))
        world.do("track", "visit")
        world.scorer.on_activity(world.contact, early)  # ...but arrives ten days late
        # 16 (today) + 16 halved once (it happened ten days ago)
        assert world.scorer.explain(world.contact_id)["behaviour"] == pytest.approx(24)
    finally:
        world.close()
