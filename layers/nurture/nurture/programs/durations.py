"""Human durations in program files: "3 days", "2h", "90 minutes", "4 years".

Offsets are signed durations: "-30 days", "30 days before", "2 hours after", "+1 week".
"""

from __future__ import annotations

import re

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "y": 365 * 86400,
    "year": 365 * 86400,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")
_OFFSET = re.compile(r"^\s*([+-]?)\s*(.+?)\s*(before|after|earlier|later)?\s*$")
_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str | int) -> int:
    """Seconds in a duration; raises ValueError naming what is accepted."""
    if isinstance(text, bool):
        raise ValueError("a duration is a number and a unit, e.g. '3 days'")
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return text
    match = _PATTERN.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, "
            "e.g. '3 days', '12 hours', '2 weeks'"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def parse_offset(text: str | int) -> int:
    """Signed seconds: "-30 days" and "30 days before" are -2592000; "2 days after" is positive."""
    if isinstance(text, bool):
        raise ValueError("an offset is a duration, e.g. '-30 days' or '30 days before'")
    if isinstance(text, int):
        return text
    match = _OFFSET.match(text.lower())
    if not match:
        raise ValueError(
            f"{text!r} is not an offset; write e.g. '30 days before' or '2 hours after'"
        )
    sign, body, word = match.groups()
    if sign and word:
        raise ValueError(f"{text!r}: use either a sign or before/after, not both")
    try:
        seconds = parse_duration(body)
    except ValueError:
        raise ValueError(
            f"{text!r} is not an offset; write e.g. '30 days before', '-30 days' or '2 hours after'"
        ) from None
    return -seconds if sign == "-" or word in ("before", "earlier") else seconds


def parse_time_of_day(text: str) -> tuple[int, int]:
    """(hour, minute) of "HH:MM" (24-hour clock)."""
    match = _TIME_OF_DAY.match(text.strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a time of day; write HH:MM on a 24-hour clock, e.g. '09:30'"
        )
    return int(match.group(1)), int(match.group(2))
