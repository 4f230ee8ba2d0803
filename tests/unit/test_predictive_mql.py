"""The MQL rule can name the predictive score: `mql: {predictive: 60}` alone, or with
behaviour and grade (every part given must hold)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nurture.scoring.model import Mql
from tests.unit.scoring_support import World, model

PREDICTIVE_ONLY = model(
    """
id: learned
name: Learned
behaviour:
  - {id: careers, event: page, where: {url: {glob: "*/careers*"}}, points: -10}
mql: {predictive: 60}
"""
)
BOTH = model(
    """
id: both
name: Both
behaviour:
  - {id: pricing, event: page, where: {url: {glob: "*/pricing*"}}, points: 25}
mql: {behaviour: 20, predictive: 60}
"""
)


@pytest.fixture
def worlds() -> Iterator[list[World]]:
    made: list[World] = []
    yield made
    for w in made:
        w.close()


def scored(world: World, old: int | None, new: int) -> None:
    """What a predictive scoring run does: the score on the contact, then the record."""
    contact = world.contact
    contact.predictive_score = new
    world.contacts.save(contact)
    world.do(
        "contact",
        "contact.predictive_score_changed",
        old=old or 0,
        new=new,
        model="predictive",
        version=1,
    )


def test_a_predictive_score_crossing_the_rule_makes_an_mql(worlds: list[World]) -> None:
    world = World(PREDICTIVE_ONLY)
    worlds.append(world)
    scored(world, None, 45)
    assert world.contact.stage == "lead" and world.recorded("lead.mql") == []
    scored(world, 45, 72)
    assert world.contact.stage == "mql"
    [mql] = world.recorded("lead.mql")
    assert mql.properties["rule"] == "predictive >= 60"
    [stage] = world.recorded("contact.stage_changed")
    assert (stage.properties["from"], stage.properties["to"]) == ("lead", "mql")
    scored(world, 72, 80)  # already over: nothing again
    assert len(world.recorded("lead.mql")) == 1


def test_every_part_must_hold(worlds: list[World]) -> None:
    world = World(BOTH)
    worlds.append(world)
    scored(world, None, 70)  # predictive enough, behaviour 0
    assert world.contact.stage == "lead"
    world.page("https://example.com/pricing")  # behaviour 25: now both hold
    assert world.contact.stage == "mql"
    assert (
        world.recorded("lead.mql")[0].properties["rule"] == "behaviour >= 20 and predictive >= 60"
    )


def test_without_a_predictive_score_the_rule_does_not_hold(worlds: list[World]) -> None:
    world = World(BOTH)
    worlds.append(world)
    world.page("https://example.com/pricing")
    assert world.contact.stage == "lead" and world.recorded("lead.mql") == []


def test_the_rule_is_validated() -> None:
    assert Mql(predictive=60).describe() == "predictive >= 60"
    with pytest.raises(ValueError):
        Mql(predictive=0)
    with pytest.raises(ValueError):
        Mql()
