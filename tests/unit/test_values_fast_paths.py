"""The value budget's fast paths (nurture.tracking.values: plain leaves checked inline, in
`check_fields` and the walk) decide exactly what the plain recursive walk decides: same
refusals, same field, same reason. Hypothesis
generates the objects, with what the budget is about: deep nesting, big and tiny numbers,
inf and nan, date-like strings that do and do not exist in UTC, lone surrogates, escapes."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nurture.tracking.body import BadBody, parse_json
from nurture.tracking.values import (
    MAX_INT_DIGITS,
    MAX_NESTING,
    ValueProblem,
    check_fields,
    fits_budget,
)

MAX_NUMBER = 10**126
MIN_NUMBER = 1e-130


# --- the oracle: the budget as first written, one recursive walk, no shortcuts ---------------


def _string_problem(value: str) -> str | None:
    try:
        value.encode()
    except UnicodeEncodeError:
        return "holds a lone UTF-16 surrogate (not valid Unicode)"
    if len(value) >= 10 and value[4] == "-" and value[:4].isdigit() and value[7] == "-":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        try:
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
        except OverflowError:
            return "is a date-time that does not exist in UTC (out of range)"
    return None


def _number_problem(value: float) -> str | None:
    if isinstance(value, int):
        if abs(value) < 10**MAX_INT_DIGITS:
            return None
        if abs(value) >= MAX_NUMBER:
            return "is a number out of range (1E-130 to 1E+126)"
        if len(str(abs(value)).rstrip("0")) > MAX_INT_DIGITS:
            return f"is a number with more than {MAX_INT_DIGITS} significant digits"
        return None
    if not math.isfinite(value):
        return "is not a finite number"
    if value != 0 and not MIN_NUMBER <= abs(value) < float(MAX_NUMBER):
        return "is a number out of range (1E-130 to 1E+126)"
    return None


class _Found(Exception):
    def __init__(self, path: list[str], reason: str):
        self.path, self.reason = path, reason


def _walk(value: Any, depth: int) -> None:
    if depth >= MAX_NESTING:
        raise _Found([], f"is nested more than {MAX_NESTING} levels deep")
    if isinstance(value, dict):
        for key, item in value.items():
            try:
                if isinstance(key, str) and (reason := _string_problem(key)):
                    raise _Found([], f"has a key that {reason}")
                _walk(item, depth + 1)
            except _Found as found:
                found.path.append(str(key).encode(errors="replace").decode())
                raise
    elif isinstance(value, list):
        for index, item in enumerate(value):
            try:
                _walk(item, depth + 1)
            except _Found as found:
                found.path.append(str(index))
                raise
    elif isinstance(value, str):
        if reason := _string_problem(value):
            raise _Found([], reason)
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (reason := _number_problem(value))
    ):
        raise _Found([], reason)


def oracle(fields: dict[str, Any]) -> tuple[str, str] | None:
    for name, value in fields.items():
        try:
            _walk(value, 0)
        except _Found as found:
            path = ".".join([name, *reversed(found.path)])
            return (path[:197] + "...") if len(path) > 200 else path, found.reason
    return None


def checked(fields: dict[str, Any]) -> tuple[str, str] | None:
    try:
        check_fields(fields)
    except ValueProblem as problem:
        return problem.field, problem.reason
    return None


# --- what hypothesis draws ------------------------------------------------------------------

dates = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(
        [
            "9999-12-31T23:59:59-23:59",  # year 10000 in UTC
            "0001-01-01T00:00:00+01:00",  # year 0 in UTC
            "2026-13-01",
            "2026-06-01",
            "next-1.72.0",
            "user-12345678",
            '2026-"1-01',
        ]
    ),
)
texts = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.sampled_from(["\ud800", "a\udfffb", 'q"uote', "back\\slash", "—", "e811", ":5e100"]),
    dates,
)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**36, max_value=10**130),
    st.integers(min_value=-(10**130), max_value=-(10**36)),
    st.floats(),
    st.sampled_from([1e-200, 1e-130, 1e-129, 9.9e125, 1e126, -1e200, 5e-324, 1e22, 0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=30,
)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    """A value nested around the limit (31 containers holding a scalar is the deepest kept)."""
    value: Any = draw(scalars)
    for _ in range(draw(st.integers(min_value=MAX_NESTING - 4, max_value=MAX_NESTING + 2))):
        value = [value] if draw(st.booleans()) else {draw(st.text("ab-:1", max_size=3)): value}
    return value


events = st.dictionaries(st.text(max_size=8), values | deep(), max_size=6)


@settings(max_examples=1500, deadline=None)
@given(events)
def test_the_fast_paths_refuse_exactly_what_the_walk_refuses(fields: dict[str, Any]) -> None:
    assert checked(fields) == oracle(fields)


def test_a_plain_event_passes_and_a_bad_one_is_named() -> None:
    event = {
        "messageId": "ajs-next-128b2f330c5c7fd0a6a3a4506513270e",
        "anonymousId": "5d9dc9f8-1818-e811-892f-902bd23f0824",
        "timestamp": "2026-06-01T09:00:00.000Z",
        "context": {"page": {"title": "Acme — pricing"}, "library": {"version": "next-1.72.0"}},
        "properties": {"price": 49.0, "items": [1, 2, 3]},
    }
    assert checked(event) is None
    bad = {**event, "properties": {"when": "9999-12-31T23:59:59-23:59"}}
    assert checked(bad) == (
        "properties.when",
        "is a date-time that does not exist in UTC (out of range)",
    )


# --- the document screen (fits_budget): True only where the walk finds nothing ----------------


def _json(value: Any, escape: bool, space: str) -> str:
    """JSON as a sender might write it: `escape` writes every digit and '-' in strings as
    \\u00XX (legal JSON, and a way to spell a year 9999 the screen must not miss)."""
    if isinstance(value, str):
        chars = (
            f"\\u{ord(c):04x}" if escape and c in "0123456789-" else json.dumps(c)[1:-1]
            for c in value
        )
        return '"' + "".join(chars) + '"'
    if isinstance(value, dict):
        items = (
            f"{_json(str(k), escape, space)}:{space}{_json(v, escape, space)}"
            for k, v in value.items()
        )
        return "{" + f",{space}".join(items) + "}"
    if isinstance(value, list):
        return "[" + f",{space}".join(_json(v, escape, space) for v in value) + "]"
    return json.dumps(value)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(events, min_size=1, max_size=3),
    events | st.none(),
    st.booleans(),
    st.sampled_from(["", " ", "\n  "]),
)
def test_a_document_the_screen_passes_holds_nothing_the_walk_refuses(
    batch: list[dict[str, Any]], shared: dict[str, Any] | None, escape: bool, space: str
) -> None:
    body: dict[str, Any] = {"batch": batch, **({"context": shared} if shared is not None else {})}
    try:
        document = _json(body, escape, space).encode()
        parsed = parse_json(document)
    except (UnicodeEncodeError, BadBody):  # what the ingest API refuses before any check
        return
    if not fits_budget(document):
        return
    for event in parsed["batch"]:
        merged = {**event, "context": parsed.get("context")}  # as the batch route merges them
        assert oracle(event) is None and oracle(merged) is None, document


def test_the_screen_passes_events_as_sdks_send_them() -> None:
    event = {
        "messageId": "ajs-next-3e8b2f330c5c7fd0a6a3a4506513270e",  # hex: '3e8' is no number
        "anonymousId": "5d9dc9f8-1818-e811-892f-902bd23f0824",
        "timestamp": "2026-06-01T09:00:00.000Z",
        "context": {"page": {"title": "Acme — pricing"}, "library": {"version": "next-1.72.0"}},
        "properties": {"price": 49.0, "items": [1, 2, -3], "note": "5e100 is text here"},
    }
    assert fits_budget(json.dumps({"batch": [event] * 3}).encode())  # \u2014 escapes
    assert fits_budget(json.dumps({"batch": [event]}, ensure_ascii=False).encode())


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-23:59",
        "0001-01-01T00:00:00+01:00",
        1e200,
        1.5e-131,
        10**38,
        -(10**40),
    ],
)
def test_the_screen_sends_anything_the_budget_is_about_to_the_walk(value: Any) -> None:
    body = {"batch": [{"messageId": "m", "properties": {"x": value}}]}
    assert not fits_budget(json.dumps(body).encode())
    assert not fits_budget(_json(body, escape=True, space="").encode())


def test_the_screen_counts_levels_as_the_walk_does() -> None:
    def nested(levels: int) -> Any:
        value: Any = "leaf"
        for _ in range(levels):
            value = {"a": value}
        return value

    # The whole document 32 containers deep passes: its deepest field holds 31 levels.
    assert fits_budget(json.dumps(nested(32)).encode())
    assert not fits_budget(json.dumps(nested(33)).encode())
    # Brackets inside strings are text, not levels; escaped quotes do not end a string.
    text = '"{[{[\\" \\\\"'
    assert fits_budget(json.dumps({"a": text * 40, "b": nested(30)}).encode())
