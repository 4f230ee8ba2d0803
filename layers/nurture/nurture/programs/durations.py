"""Human durations in program files: "3 days", "2h", "90 minutes", "4 years"."""

from __future__ import annotations

import re

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400, "w": 7 * 86400, "week": 7 * 86400,
    "month": 30 * 86400, "y": 365 * 86400, "year": 365 * 86400,
}
_PATTERN = re.compile(r"^\s*(\d+)\s*([a-z]+?)s?\s*$")


def parse_duration(text: str | int) -> int:
    """Seconds in a duration; raises ValueError naming what is accepted."""
    if isinstance(text, int):
        if text < 0:
            raise ValueError("a duration cannot be negative")
        return text
    match = _PATTERN.match(text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(
            f"{text!r} is not a duration; write a number and a unit, e.g. '3 days', '12 hours', '2 weeks'"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]
