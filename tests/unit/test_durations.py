"""Human durations in program files."""

from __future__ import annotations

import pytest

from nurture.programs.durations import parse_duration, parse_offset

pytestmark = pytest.mark.unit

DAY = 86400


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3 days", 3 * DAY),
        ("1 day", DAY),
        ("3d", 3 * DAY),
        ("2h", 7200),
        ("12 hours", 12 * 3600),
        ("90 minutes", 5400),
        ("90 min", 5400),
        ("45 seconds", 45),
        ("30s", 30),
        ("2 weeks", 14 * DAY),
        ("1 month", 30 * DAY),
        ("4 years", 4 * 365 * DAY),
        ("  3   Days ", 3 * DAY),
        ("0 days", 0),
        (600, 600),
        (0, 0),
    ],
)
def test_a_duration_is_its_number_of_seconds(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "3",
        "days",
        "3 fortnights",
        "1.5 days",
        "-3 days",
        "3 days 2 hours",
        "three days",
    ],
)
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(text)
    assert str(refused.value) == (
        f"{text!r} is not a duration; write a number and a unit, "
        "e.g. '3 days', '12 hours', '2 weeks'"
    )


def test_a_negative_number_of_seconds_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        parse_duration(-1)
    assert str(refused.value) == "a duration cannot be negative"


@pytest.mark.parametrize("parse", [parse_duration, parse_offset])
def test_true_and_false_are_not_numbers_of_seconds(parse: object) -> None:
    with pytest.raises(ValueError) as refused:
        parse(True)  # type: ignore[operator]
    expected = {
        parse_duration: "a duration is a number and a unit, e.g. '3 days'",
        parse_offset: "an offset is a duration, e.g. '-30 days' or '30 days before'",
    }[parse]  # type: ignore[index]
    assert str(refused.value) == expected


# The unit aliases a program file may use, each spelled out (a changed table fails here).
@pytest.mark.parametrize(
    ("unit", "seconds"),
    [
        ("s", 1), ("sec", 1), ("second", 1), ("seconds", 1),
        ("m", 60), ("min", 60), ("minute", 60), ("minutes", 60),
        ("h", 3600), ("hour", 3600), ("hours", 3600),
        ("d", DAY), ("day", DAY), ("days", DAY),
        ("w", 7 * DAY), ("week", 7 * DAY), ("weeks", 7 * DAY),
        ("month", 30 * DAY), ("months", 30 * DAY),
        ("y", 365 * DAY), ("year", 365 * DAY), ("years", 365 * DAY),
    ],
)  # fmt: skip
def test_every_unit_alias(unit: str, seconds: int) -> None:
    assert parse_duration(f"2 {unit}") == 2 * seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("-30 days", -30 * DAY),
        ("30 days before", -30 * DAY),
        ("30 days earlier", -30 * DAY),
        ("2 hours after", 7200),
        ("2 hours later", 7200),
        ("+1 week", 7 * DAY),
        ("1 week", 7 * DAY),
        (" - 3 d ", -3 * DAY),
        (-90, -90),
        (0, 0),
    ],
)
def test_an_offset_is_signed_seconds(text: str | int, seconds: int) -> None:
    assert parse_offset(text) == seconds


def test_an_offset_refusal_says_what_is_accepted() -> None:
    with pytest.raises(ValueError) as empty:
        parse_offset("")
    assert str(empty.value) == "'' is not an offset; write e.g. '30 days before' or '2 hours after'"
    with pytest.raises(ValueError) as both:
        parse_offset("-3 days before")
    assert str(both.value) == "'-3 days before': use either a sign or before/after, not both"
    with pytest.raises(ValueError) as bad:
        parse_offset("soon after")
    assert str(bad.value) == (
        "'soon after' is not an offset; write e.g. '30 days before', '-30 days' or '2 hours after'"
    )
