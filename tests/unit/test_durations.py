"""Human durations in program files."""

from __future__ import annotations

import pytest

from nurture.programs.durations import parse_duration

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
    with pytest.raises(ValueError, match="e.g. '3 days'"):
        parse_duration(text)


def test_a_negative_number_of_seconds_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(-1)
