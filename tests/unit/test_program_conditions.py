"""The condition language, triggers, entry rules and goals: parsing and pure evaluation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from nurture.programs.conditions import Condition, activity_matches, describe, evaluate
from nurture.programs.durations import parse_offset, parse_time_of_day
from nurture.programs.model import (
    Entry,
    Program,
    goal_reached,
    step_from_params,
    trigger_key,
    trigger_keys,
)

pytestmark = pytest.mark.unit
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)

CONTACT = {
    "contact_id": "c1",
    "email": "ada@example.com",
    "first_name": "Ada",
    "stage": "lead",
    "score": 42,
    "tags": ["newsletter", "vip"],
    "fields": {"plan": "pro", "seats": 12},
    "consent": {"email:marketing": {"status": "granted"}, "sms:marketing": {"status": "withdrawn"}},
}
ACTIVITIES = [
    {
        "kind": "track",
        "name": "purchase",
        "occurred_at": "2026-02-25T10:00:00Z",
        "properties": {"category": "bikes", "amount": 1200},
    },
    {
        "kind": "track",
        "name": "purchase",
        "occurred_at": "2025-06-01T10:00:00Z",
        "properties": {"category": "helmets", "amount": 80},
    },
    {
        "kind": "page",
        "name": "Pricing",
        "occurred_at": "2026-02-28T10:00:00Z",
        "page": {"url": "https://shop.example.com/pricing?plan=pro"},
    },
    {
        "kind": "form",
        "name": "guide-download",
        "occurred_at": "2026-01-10T10:00:00Z",
        "properties": {"fields": {"guide": "cycling-101"}},
    },
]


def holds(data: Any) -> bool:
    return evaluate(CONDITION.validate_python(data), CONTACT, ACTIVITIES, NOW)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"field": "score", "gte": 40}, True),
        ({"field": "score", "gt": 42}, False),
        ({"field": "score", "gte": 40, "lt": 50}, True),
        ({"field": "stage", "eq": "lead"}, True),
        ({"field": "stage", "lt": "customer"}, True),  # lifecycle order
        ({"field": "stage", "gte": "mql"}, False),
        ({"field": "stage", "in": ["lead", "mql"]}, True),
        ({"field": "tags", "contains": "vip"}, True),
        ({"field": "plan", "eq": "pro"}, True),  # custom field by name
        ({"field": "fields.seats", "gte": 10}, True),
        ({"field": "company", "exists": False}, True),
        ({"field": "company", "ne": "ACME"}, True),
        ({"field": "email", "glob": "*@EXAMPLE.com"}, True),
        ({"field": "email", "regex": "^ada@"}, True),
        ({"has_tag": "vip"}, True),
        ({"has_consent": "email"}, True),
        ({"has_consent": {"channel": "sms"}}, False),
        ({"did": "purchase", "where": {"category": "bikes"}, "within": "30 days"}, True),
        ({"did": "purchase", "where": {"category": "helmets"}, "within": "30 days"}, False),
        ({"did": "purchase", "at_least": 2}, True),
        ({"did": "purchase", "where": {"amount": {"gte": 1000}}}, True),
        ({"did": "page", "where": {"url": {"glob": "*/pricing*"}}}, True),
        ({"did": "form:guide-download", "where": {"fields.guide": "cycling-101"}}, True),
        ({"all": [{"has_tag": "vip"}, {"field": "score", "gte": 40}]}, True),
        ({"any": [{"has_tag": "nope"}, {"field": "score", "gte": 100}]}, False),
        ({"not": {"field": "stage", "eq": "customer"}}, True),
    ],
)
def test_evaluate(data: dict[str, Any], expected: bool) -> None:
    assert holds(data) is expected


def test_dumped_conditions_mean_the_same() -> None:
    data = {"all": [{"field": "score", "gte": 1}, {"not": {"field": "plan", "in": ["free"]}}]}
    parsed = CONDITION.validate_python(data)
    dumped = CONDITION.dump_python(parsed, mode="json", by_alias=True)
    assert dumped == data
    assert CONDITION.validate_python(dumped) == parsed


def test_describe_reads_like_a_sentence() -> None:
    text = describe(
        CONDITION.validate_python(
            {
                "all": [
                    {"field": "score", "gte": 50},
                    {"did": "page", "where": {"url": {"glob": "*/pricing*"}}, "within": "7 days"},
                ]
            }
        )
    )
    assert text == "(score >= 50 and did 'page' where url matches '*/pricing*' within 7 days)"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"fild": "score"}, "a condition needs one of the keys"),
        ({"field": "score"}, "give at least one operator"),
        ({"field": "x", "regex": "("}, "not a valid regular expression"),
        ({"did": "x", "within": "soon"}, "is not a duration"),
    ],
)
def test_bad_conditions(data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        CONDITION.validate_python(data)
    assert words in str(info.value)


def test_event_filters_match_activities() -> None:
    page = ACTIVITIES[2]
    assert activity_matches("page", {"url": {"regex": r"/pricing\b"}}, page)
    assert not activity_matches("purchase", {}, page)
    assert activity_matches("purchase", {"category": ["bikes", "cars"]}, ACTIVITIES[0])


def base(**extra: Any) -> dict[str, Any]:
    return {
        "id": "p",
        "name": "P",
        "trigger": {"form": "f"},
        "steps": [{"id": "e", "type": "end"}],
        **extra,
    }


@pytest.mark.parametrize(
    ("trigger", "key"),
    [
        ({"form": "signup"}, "form:signup"),
        ({"event": "purchase", "where": {"category": "bikes"}}, "event:purchase"),
        ({"event": "page", "where": {"url": {"glob": "*/pricing*"}}}, "event:page"),
        ({"field_changed": "postal_address"}, "field_changed:postal_address"),
        ({"stage_changed": "customer"}, "stage_changed"),
        ({"stage_changed": {"from": "lead", "to": ["mql", "sql"]}}, "stage_changed"),
        ({"score_crossed": 100}, "score_crossed"),
        ({"date": "birthday", "repeat": "yearly", "time_of_day": "09:30"}, "date"),
        ({"date": "renewal_date", "repeat": "once", "offset": "30 days before"}, "date"),
        ({"inactivity": "purchase", "days": 90}, "inactivity"),
        ({"segment": {"field": "stage", "eq": "lead"}, "once": False}, "segment"),
    ],
)
def test_trigger_kinds_and_index_keys(trigger: dict[str, Any], key: str) -> None:
    program = Program.model_validate(base(trigger=trigger))
    assert trigger_keys(program) == [key] == [trigger_key(program.trigger)]


def test_stage_shorthand() -> None:
    program = Program.model_validate(base(trigger={"stage_changed": "customer"}))
    assert program.trigger.stage_changed.to == "customer"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("entry", "mode", "period"),
    [
        (None, "once", None),
        ("once", "once", None),
        ("every_time", "every_time", None),
        ({"once": False}, "every_time", None),
        ({"once_per": "90 days", "conditions": [{"has_consent": "email"}]}, "once_per", 90 * 86400),
    ],
)
def test_entry_rules(entry: Any, mode: str, period: int | None) -> None:
    program = Program.model_validate(base(**({"entry": entry} if entry is not None else {})))
    assert program.entry.mode == mode and program.entry.period_seconds == period


def test_entry_rejects_two_modes() -> None:
    with pytest.raises(ValidationError, match="choose one of once, every_time or once_per"):
        Entry.model_validate({"every_time": True, "once_per": "1 day"})


def test_goals_by_event_or_condition() -> None:
    program = Program.model_validate(
        base(
            goals=[
                {"name": "bought", "event": "purchase", "where": {"category": "bikes"}},
                {"when": {"field": "stage", "eq": "customer"}},
            ]
        )
    )
    assert goal_reached(program, CONTACT, ACTIVITIES[0], ACTIVITIES, NOW).name == "bought"  # type: ignore[union-attr]
    assert goal_reached(program, CONTACT, ACTIVITIES[1], ACTIVITIES, NOW) is None
    customer = {**CONTACT, "stage": "customer"}
    assert goal_reached(program, customer, None, [], NOW) is program.goals[1]
    with pytest.raises(ValidationError, match="either `event`"):
        Program.model_validate(base(goals=[{"name": "x"}]))


def test_step_from_params_round_trips_every_step() -> None:
    from nurture.programs.compiler import step_params

    steps = [
        {
            "id": "a",
            "type": "branch",
            "branches": [{"when": {"has_tag": "x"}, "next": "b"}],
            "default": "b",
        },
        {
            "id": "b",
            "type": "split",
            "variants": [{"percent": 50, "next": "c"}, {"percent": 50, "next": "c"}],
        },
        {
            "id": "c",
            "type": "wait_until",
            "field": "birthday",
            "yearly": True,
            "time_of_day": "09:00",
        },
        {
            "id": "d",
            "type": "webhook",
            "url": "https://x.example.com/",
            "body": {"id": "{{ contact.contact_id }}"},
        },
        {"id": "e", "type": "create_task", "title": "Call", "assignee": "owner", "due": "2 days"},
        {"id": "f", "type": "start_program", "program": "other"},
        {"id": "g", "type": "score", "add": -10, "reason": "careers page"},
        {"id": "h", "type": "notify_sales", "message": "Hot lead"},
        {"id": "i", "type": "send_sms", "text": "Hi"},
    ]
    program = Program.model_validate(base(steps=steps))
    for step in program.steps:
        again = step_from_params(step.type, step.id, step_params(step))
        assert again == step


def test_offsets_and_times() -> None:
    assert parse_offset("30 days before") == -30 * 86400
    assert parse_offset("-2 hours") == -7200
    assert parse_offset("1 day after") == 86400
    assert parse_time_of_day("09:30") == (9, 30)
    with pytest.raises(ValueError, match="not both"):
        parse_offset("-1 day before")
    with pytest.raises(ValueError, match="24-hour"):
        parse_time_of_day("25:00")


def test_wait_until_needs_one_source() -> None:
    with pytest.raises(ValidationError, match="either `at`"):
        Program.model_validate(base(steps=[{"id": "w", "type": "wait_until"}]))
    with pytest.raises(ValidationError, match="needs a time zone"):
        Program.model_validate(
            base(steps=[{"id": "w", "type": "wait_until", "at": "2027-01-01T09:00"}])
        )
