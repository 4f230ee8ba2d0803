"""Compiled programs are definitions AWS accepts: every shipped program, and programs
hypothesis makes up from the program model (every step type, waits short and long, loops
through a wait, branches, splits, goals), pass AWS's own ASL validation
(amazon-states-language-service, run by localcloud.asl_validation)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from localcloud.asl_validation import validate_definition
from nurture.programs.compiler import check_program, compile_program
from nurture.programs.deploy import validate_source
from nurture.programs.model import STEP_TYPES, Program

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
STEPS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:nurture-StepsFunction"
SHIPPED = sorted((ROOT / "programs").glob("*.yaml"))


def graph_problems(definition: dict[str, Any]) -> list[str]:
    """What AWS also refuses beyond the language service's checks: names over 80
    characters; and what we promise: every state reachable from StartAt."""
    states = definition["States"]
    problems = [f"state name over 80 characters: {n!r}" for n in states if len(n) > 80]
    seen, todo = {definition["StartAt"]}, [definition["StartAt"]]
    while todo:
        state = states.get(todo.pop(), {})
        targets = [state.get("Next"), state.get("Default")]
        targets += [r["Next"] for r in state.get("Choices", [])]
        targets += [c["Next"] for c in state.get("Catch", [])]
        for target in filter(None, targets):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    problems += [f"unreachable state {n!r}" for n in states if n not in seen]
    return problems


def assert_accepted(definition: dict[str, Any]) -> None:
    answer = validate_definition(json.dumps(definition), severity="WARNING")
    errors = [d for d in answer["diagnostics"] if d["severity"] == "ERROR"]
    assert answer["result"] == "OK", json.dumps(errors, indent=2)
    assert graph_problems(definition) == []


def test_the_validator_refuses_what_aws_refuses() -> None:
    """The check below can fail: an unreachable state and a missing target are refused."""
    bad = {
        "StartAt": "a",
        "States": {
            "a": {"Type": "Pass", "Next": "gone"},
            "b": {"Type": "Succeed"},
        },
    }
    answer = validate_definition(bad)
    assert answer["result"] == "FAIL"
    assert {d["location"] for d in answer["diagnostics"]} >= {"/States/a/Next", "/States/b"}
    assert graph_problems(bad) == ["unreachable state 'b'"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_program_compiles_to_a_definition_aws_accepts(path: Path) -> None:
    program, problems = validate_source(path.read_text())
    assert program is not None and problems == [], problems
    assert_accepted(compile_program(program, STEPS_ARN).definition)
    two = compile_program(program, STEPS_ARN, resume_arn=RESUME_ARN)
    assert_accepted(two.definition)
    if two.resume_definition is not None:
        assert_accepted(two.resume_definition)


# --- generated programs ---------------------------------------------------------------------
DAY = 86400
IDS = st.from_regex(r"[a-z0-9][a-z0-9-]{0,39}", fullmatch=True)
# Any text, including what JSON and ASL treat specially ($, quotes, dots, unicode).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=24)
KEYS = st.text(
    st.characters(exclude_categories=("Cs",)) | st.sampled_from("$.:*[]{}"),
    min_size=1,
    max_size=12,
).filter(lambda k: k.strip() == k and bool(k))
SHORT = st.one_of(
    st.integers(0, 20 * DAY),
    st.builds(
        "{} {}".format, st.integers(1, 20), st.sampled_from(["minutes", "hours", "days", "weeks"])
    ),
)
LONG = st.builds("{} days".format, st.integers(91, 3000))
CONDITIONS = st.sampled_from(
    [
        {"field": "score", "gte": 50},
        {"field": "stage", "in": ["lead", "mql"]},
        {"has_tag": "vip"},
        {"has_consent": "email"},
        {"did": "purchase", "where": {"category": "shoes"}, "within": "30 days"},
        {"did": "page", "where": {"url": {"glob": "*/pricing*"}}},
        {"not": {"did": "order_completed"}},
        {"any": [{"has_tag": "a"}, {"field": "fields.plan", "eq": "pro"}]},
    ]
)
TRIGGERS = st.sampled_from(
    [
        {"form": "newsletter-signup"},
        {"event": "purchase", "where": {"category": "bikes"}},
        {"stage_changed": {"to": "customer"}},
        {"date": "birthday", "offset": "7 days before"},
        {"inactivity": "purchase", "days": 90},
        {"segment": {"has_tag": "vip"}, "once": False},
    ]
)
GOALS = st.lists(
    st.sampled_from([{"event": "purchase"}, {"name": "bought", "when": {"has_tag": "customer"}}]),
    max_size=2,
)
SPLITS = st.sampled_from([[50, 50], [10, 90], [34, 33, 33], [25, 25, 25, 25]])


@st.composite
def step(draw: st.DrawFn, ids: list[str], index: int, types: list[str]) -> dict[str, Any]:
    sid, kind = ids[index], types[index]
    later, earlier = ids[index + 1 :], ids[:index]
    if not later and kind in ("branch", "split", "wait_for_event"):
        kind = "end"
    out: dict[str, Any] = {"id": sid, "type": kind}
    if kind in ("send_email", "send_sms"):
        out["purpose"] = draw(st.sampled_from(["marketing", "service"]))
        out["topic"] = draw(st.sampled_from(["newsletter", "offers"]))
        if draw(st.booleans()):
            out["send_window"] = draw(st.sampled_from(["09:00-17:00", "mon-fri 08:00-20:00"]))
        if kind == "send_email":
            out["template"] = draw(st.sampled_from(["welcome-1", "welcome-2a"]))
        else:
            out["text"] = draw(TEXT) or "hi"
    elif kind == "wait":
        out["duration"] = draw(st.one_of(SHORT, LONG))
        # A loop through this wait (from the last step, so the steps after it stay reachable).
        if earlier and (not later or draw(st.integers(0, 5)) == 0) and draw(st.booleans()):
            out["next"] = draw(st.sampled_from(earlier))
    elif kind == "wait_until":
        if draw(st.booleans()):
            moment = draw(st.datetimes(datetime(2026, 1, 1), datetime(2030, 1, 1)))
            out["at"] = moment.replace(tzinfo=UTC).isoformat()
        else:
            out["field"] = draw(st.sampled_from(["birthday", "renewal_date"]))
            out["offset"] = draw(st.sampled_from([0, "2 days before", "1 day after"]))
            out["yearly"] = draw(st.booleans())
            out["time_of_day"] = draw(st.sampled_from(["09:00", "18:30"]))
    elif kind == "wait_for_event":
        sends = [s for s, t in zip(earlier, types, strict=False) if t == "send_email"]
        if sends and draw(st.booleans()):
            out["event"] = draw(st.sampled_from(["email.clicked", "email.opened"]))
            out["email"] = draw(st.sampled_from(sends))
        else:
            out["event"] = draw(st.sampled_from(["purchase", "page", "form:contact"]))
        out["where"] = draw(st.dictionaries(KEYS, TEXT, max_size=2))
        out["timeout"] = draw(SHORT)
        out["on_event"] = draw(st.sampled_from(later))
        out["on_timeout"] = draw(st.sampled_from(later))
    elif kind == "branch":
        rules = draw(
            st.lists(st.tuples(CONDITIONS, st.sampled_from(later)), min_size=1, max_size=3)
        )
        out["branches"] = [{"when": when, "next": target} for when, target in rules]
        out["default"] = draw(st.sampled_from(later))
    elif kind == "split":
        percents = draw(SPLITS)
        out["variants"] = [
            {"name": draw(st.none() | TEXT), "percent": p, "next": draw(st.sampled_from(later))}
            for p in percents
        ]
    elif kind == "update_contact":
        out["set"] = draw(st.dictionaries(KEYS, st.none() | st.integers() | TEXT, max_size=3))
        out["add_tags"] = draw(st.lists(TEXT, max_size=2))
        out["stage"] = draw(st.sampled_from(["lead", "customer"]))
    elif kind == "score":
        out["add"] = draw(st.integers(1, 50) | st.integers(-50, -1))
        out["reason"] = draw(TEXT)
    elif kind == "notify_sales":
        out["message"] = draw(TEXT) or "a hot lead"
    elif kind == "webhook":
        out["url"] = "https://hooks.example.com/nurture"
        out["body"] = draw(
            st.none()
            | TEXT
            | st.dictionaries(
                KEYS, st.recursive(TEXT, lambda c: st.dictionaries(KEYS, c, max_size=2)), max_size=3
            )
        )
        out["headers"] = draw(st.dictionaries(st.sampled_from(["X-A", "X-B"]), TEXT, max_size=2))
        if later and draw(st.booleans()):
            out["on_failure"] = draw(st.sampled_from(later))
    elif kind == "create_task":
        out["title"] = draw(TEXT) or "call them"
        out["assignee"] = draw(st.sampled_from(["owner", "sales@example.com"]))
        out["due"] = draw(st.none() | SHORT)
    elif kind == "start_program":
        out["program"] = "other-program"
    skips = later and kind not in ("wait", "branch", "split", "wait_for_event", "end")
    if skips and draw(st.integers(0, 4)) == 0:
        out["next"] = draw(st.sampled_from(later))  # skip ahead
    return out


@st.composite
def programs(draw: st.DrawFn) -> Program:
    count = draw(st.integers(1, 8))
    ids = draw(st.lists(IDS, min_size=count, max_size=count, unique=True))
    types = draw(st.lists(st.sampled_from(STEP_TYPES), min_size=count, max_size=count))
    data = {
        "id": "generated",
        "name": draw(TEXT) or "Generated",
        "trigger": draw(TRIGGERS),
        "goals": draw(GOALS),
        "steps": [draw(step(ids, i, types)) for i in range(count)],
    }
    try:
        program = Program.model_validate(data)
    except ValueError:
        assume(False)
        raise
    assume(not check_program(program))  # only programs the deploy function would compile
    return program


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(programs())
def test_generated_programs_compile_to_definitions_aws_accepts(program: Program) -> None:
    assert_accepted(compile_program(program, STEPS_ARN).definition)
    # with a resume machine: the program's machine and the resume machine
    two = compile_program(program, STEPS_ARN, resume_arn=RESUME_ARN)
    assert_accepted(two.definition)
    if two.resume_definition is not None:
        assert_accepted(two.resume_definition)


RESUME_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:nurture-program-p_resume:1"


def test_generated_ids_reach_the_state_name_limit() -> None:
    """The longest ids with the longest helper names stay within 80 characters and apart."""
    a, b = "a" * 40, "a" * 39 + "b"
    data = {
        "id": "long",
        "name": "Long",
        "trigger": {"form": "f"},
        "steps": [
            {
                "id": "x" * 40,
                "type": "split",
                "variants": [
                    {"name": "long-name", "percent": 50, "next": a},
                    {"name": "long-name-2", "percent": 50, "next": b},
                ],
            },
            {"id": a, "type": "end"},
            {"id": b, "type": "end"},
        ],
    }
    definition = compile_program(Program.model_validate(data), STEPS_ARN).definition
    taken = [n for n in definition["States"] if n.startswith("x" * 40 + ": variant")]
    assert len(taken) == 2 and all(len(n) <= 80 for n in taken)
    assert_accepted(definition)


def test_keys_step_functions_would_read_as_paths_are_refused() -> None:
    data = {
        "id": "p",
        "name": "P",
        "trigger": {"form": "f"},
        "steps": [{"id": "s", "type": "update_contact", "set": {"plan.$": "$.contact_id"}}],
    }
    (problem,) = check_program(Program.model_validate(data))
    assert problem.loc == ("steps", 0, "set", "plan.$")
    assert "'.$'" in problem.message
