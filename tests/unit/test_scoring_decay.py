"""Decay: the behaviour score fades when activity stops, exactly, with nothing rewriting
contacts in between: half-life and rolling window over virtual months."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scoring_support import START, World, model

from nurture.scoring import explain_contact, score_now

pytestmark = pytest.mark.unit

HALF_LIFE = model(
    """
id: fading
name: Half-life
decay: {half_life: 30 days}
behaviour:
  - {id: demo, event: demo_requested, points: 40, reason: requested a demo}
  - {id: pricing, event: page, where: {url: {glob: "*/pricing*"}}, points: 10}
"""
)
WINDOW = model(
    """
id: window
name: Rolling window
decay: {window: 30 days}
behaviour:
  - {id: pricing, event: page, where: {url: {glob: "*/pricing*"}}, points: 10}
"""
)


def exact(awards: list[tuple[int, float]], day: float, half_life: float = 30) -> float:
    """Each award (points, on day) decayed on its own to `day`: the definition of a half-life."""
    return sum(p * 2 ** (-(day - d) / half_life) for p, d in awards if d <= day)


def test_half_life_is_exact_at_any_moment_over_months() -> None:
    world = World(HALF_LIFE)
    try:
        world.do("track", "demo_requested")  # day 0: 40
        world.clock.advance(timedelta(days=17, hours=6))
        world.page("https://acme.example/pricing")  # day 17.25: +10
        world.clock.advance(timedelta(days=50))
        world.page("https://acme.example/pricing")  # day 67.25: +10
        awards = [(40, 0.0), (10, 17.25), (10, 67.25)]
        stored = world.contact
        writes = len(world.contacts.applied)
        # Read at many moments over the next half year (no write happens in between)
        for hours in range(0, 24 * 180, 37):
            at = world.clock.now() + timedelta(hours=hours)
            day = (at - START).total_seconds() / 86400
            explained = explain_contact(stored, at)
            assert explained.behaviour == pytest.approx(exact(awards, day), rel=1e-12)
            assert explained.score == int(exact(awards, day) + 0.5)
        assert len(world.contacts.applied) == writes
        # one half-life after the last award, exactly half of what it was then
        at_last = explain_contact(stored, world.clock.now()).behaviour
        later = explain_contact(stored, world.clock.now() + timedelta(days=30)).behaviour
        assert later == pytest.approx(at_last / 2, rel=1e-12)
        # the contributions add up to the score, newest first
        explained = explain_contact(stored, world.clock.now() + timedelta(days=12))
        assert [r.rule for r in explained.behaviour_reasons] == ["pricing", "pricing", "demo"]
        assert sum(r.now for r in explained.behaviour_reasons) == pytest.approx(explained.behaviour)
    finally:
        world.close()


def test_the_next_award_builds_on_the_decayed_score() -> None:
    world = World(HALF_LIFE)
    try:
        world.do("track", "demo_requested")
        world.clock.advance(timedelta(days=60))  # 40 -> 10
        world.page("https://acme.example/pricing")
        [first, second] = world.recorded("contact.score_changed")
        assert (second.properties["old"], second.properties["new"]) == (10, 20)
        assert world.contact.score == 20
    finally:
        world.close()


def test_rolling_window_counts_only_the_last_30_days() -> None:
    world = World(WINDOW)
    try:
        world.page("https://acme.example/pricing")  # day 0
        world.clock.advance(timedelta(days=20))
        world.page("https://acme.example/pricing")  # day 20
        stored = world.contact
        at = world.clock.now()
        assert (
            explain_contact(stored, at + timedelta(days=9, hours=23)).behaviour == 20
        )  # day 29.96
        assert explain_contact(stored, at + timedelta(days=10)).behaviour == 10  # day 30: first out
        assert explain_contact(stored, at + timedelta(days=29)).behaviour == 10
        assert explain_contact(stored, at + timedelta(days=30)).behaviour == 0  # day 50
        assert score_now(stored, at + timedelta(days=45)) == 0
        # Months later the old awards are gone from the contact when it is next written
        world.clock.advance(timedelta(days=90))
        world.page("https://acme.example/pricing")
        state = world.contact.scoring["window"]
        assert [e["at"][:10] for e in state["events"]] == ["2026-04-25"]  # day 110
        assert world.contact.score == 10
    finally:
        world.close()


def test_conditions_read_the_score_as_it_is_now() -> None:
    from nurture.programs.conditions import FieldCondition
    from nurture.runtime.view import ContactView

    world = World(HALF_LIFE)
    try:
        world.do("track", "demo_requested")
        view_now = ContactView(world.contact, world.activities)
        assert view_now.data["score"] == 40
        world.clock.advance(timedelta(days=60))
        later = ContactView(world.contact, world.activities)
        assert later.data["score"] == 10  # stored 40, read a quarter of it two half-lives on
        assert later.holds(FieldCondition(field="score", lt=11))
    finally:
        world.close()
