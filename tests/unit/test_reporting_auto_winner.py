"""The automatic winner's rules: the program language checks it, and `choose` decides only
when the time and the sample are there (the local-cloud test covers the switch itself)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from test_program_validate import TEMPLATE

from nurture.programs.deploy import validate_source
from nurture.reporting.winners import choose

pytestmark = pytest.mark.unit

PROGRAM = """\
id: ab
name: AB
trigger: {{form: signup}}
{goals}steps:
  - id: pick
    type: split
    variants:
      - {{name: A, percent: 50, next: a}}
      - {{name: B, percent: 50, next: b}}
    auto_winner: {auto}
  - {{id: a, type: send_email, template: hello, purpose: service}}
  - {{id: b, type: send_email, template: hello, purpose: service}}
"""


class Blobs:
    def get_text(self, key: str) -> str | None:
        return TEMPLATE if key == "templates/email/hello.yaml" else None

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        raise AssertionError("validation does not write")


def problems(goals: str, auto: str) -> list[dict]:
    return validate_source(PROGRAM.format(goals=goals, auto=auto), Blobs())[1]


def test_the_program_language_checks_auto_winner():
    goals = "goals: [{name: bought, event: purchase}]\n"
    assert problems(goals, "{after: 7 days, min_per_variant: 200}") == []
    assert problems("", "{after: 7 days, metric: clicks}") == []
    (missing_goal,) = problems("", "{after: 7 days}")
    assert missing_goal["where"] == "steps[0] (pick).auto_winner"  # metric left at goal
    assert "has none" in missing_goal["problem"]
    assert problems(goals, "{after: soon}")  # not a duration
    assert problems(goals, "{after: 7 days, min_per_variant: 0}")
    assert problems(goals, "{after: 7 days, colour: red}")  # unknown setting


START = datetime(2026, 1, 5, 9, tzinfo=UTC)
SPLIT = {
    "id": "pick",
    "variants": [
        {"name": "A", "next": "a"},
        {"name": "B", "next": "b"},
        {"name": "H", "next": "end"},
    ],
    "auto_winner": {"after": "2 days", "min_per_variant": 100, "min_confidence": 0.9},
}


def figures(a: tuple[int, int], b: tuple[int, int]) -> dict:
    def variant(name: str, n: int, c: int) -> dict:
        return {
            "variant": name,
            "entrants": n,
            "conversions": c,
            "clickers": 0,
            "rate": c / n,
            "click_rate": 0.0,
            "confidence": None,
            "holdout": False,
            "first_entry": "2026-01-05T09:00:00Z",
        }

    held = {**variant("H", 30, 1), "holdout": True}
    return {"variants": [variant("A", *a), variant("B", *b), held]}


def test_no_decision_before_the_time_or_below_the_sample():
    enough = figures((200, 20), (200, 60))
    assert choose(SPLIT, enough, START + timedelta(days=2) - timedelta(seconds=1), {"H"}) is None
    small = figures((99, 5), (200, 60))
    assert choose(SPLIT, small, START + timedelta(days=3), {"H"}) is None


def test_the_best_rate_wins_with_its_figures_and_holdouts_do_not_compete():
    decision = choose(SPLIT, figures((200, 20), (200, 60)), START + timedelta(days=2), {"H"})
    assert decision is not None
    assert (decision["winner"], decision["next"], decision["metric"]) == ("B", "b", "goal")
    assert decision["confidence_vs_control"] > 0.9999
    assert [f["variant"] for f in decision["figures"]] == ["A", "B", "H"]


def test_a_challenger_below_the_confidence_asked_for_leaves_the_control():
    # 21/200 against 20/200 is no evidence: the control stays
    decision = choose(SPLIT, figures((200, 20), (200, 21)), START + timedelta(days=2), {"H"})
    assert decision is not None and decision["winner"] == "A"
    assert decision["confidence_vs_control"] < 0.9
