"""Send windows (quiet hours) in the contact's own time zone.

A window is written "08:00-20:00" (every day) or "mon-fri 09:00-17:00"; one that ends
before it starts runs over midnight ("20:00-02:00"). "always" means no quiet hours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PATTERN = re.compile(
    r"^\s*(?:(?P<d1>[a-z]{3})(?:\s*-\s*(?P<d2>[a-z]{3}))?\s+)?"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})\s*-\s*(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)


@dataclass(frozen=True)
class SendWindow:
    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))  # Monday = 0

    @classmethod
    def parse(cls, text: str) -> SendWindow | None:
        """None for "always"/"" (no quiet hours); raises ValueError naming the format."""
        cleaned = text.strip().lower()
        if cleaned in ("", "always", "any", "none"):
            return None
        match = _PATTERN.match(cleaned)
        if not match:
            raise ValueError(
                f"{text!r} is not a send window; write e.g. '08:00-20:00' or 'mon-fri 09:00-17:00'"
            )
        try:
            start = time(int(match["h1"]), int(match["m1"]))
            end = time(int(match["h2"]), int(match["m2"]))
        except ValueError as exc:
            raise ValueError(f"{text!r}: {exc}") from None
        if start == end:
            raise ValueError(f"{text!r}: the window is empty")
        days = frozenset(range(7))
        if match["d1"]:
            first, last = match["d1"], match["d2"] or match["d1"]
            if first not in _DAYS or last not in _DAYS:
                raise ValueError(f"{text!r}: days are mon, tue, wed, thu, fri, sat, sun")
            a, b = _DAYS.index(first), _DAYS.index(last)
            days = frozenset((a + i) % 7 for i in range(((b - a) % 7) + 1))
        return cls(start, end, days)

    def _openings(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC interval of the window that opens on local `day`."""
        opens = _local(day, self.start, zone)
        closes_day = day if self.end > self.start else day + timedelta(days=1)
        return opens, _local(closes_day, self.end, zone)

    def next_opening(self, moment: datetime, zone: ZoneInfo) -> datetime | None:
        """None when `moment` is inside the window, else when it next opens (UTC)."""
        local_day = moment.astimezone(zone).date()
        for offset in range(-1, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens, closes = self._openings(day, zone)
            if opens <= moment < closes:
                return None
            if opens > moment:
                return opens
        raise AssertionError("a send window opens at least once a week")  # pragma: no cover


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    # Normalised through UTC: a local time in the spring-forward gap (03:30 on that night)
    # moves forward by the gap (04:30), as most calendars do.
    return datetime.combine(day, at).replace(tzinfo=zone).astimezone(UTC)


def zone_for(name: str | None, default: str) -> ZoneInfo:
    """The contact's time zone, else the site default, else UTC: a bad name never fails a send."""
    for candidate in (name, default):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")
