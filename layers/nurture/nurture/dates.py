"""Dates in contact fields (birthdays, event dates, renewal dates) as moments to act on.

A field holds 'YYYY-MM-DD' or an ISO date-time. A date alone means that day at 09:00 in the
contact's time zone (`timezone`, an IANA name; UTC when missing or unknown).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nurture.contacts import Contact
from nurture.programs.durations import parse_time_of_day

DEFAULT_TIME_OF_DAY = time(9, 0)
UTC_ZONE = ZoneInfo("UTC")


def zone_of(contact: Contact | None) -> ZoneInfo:
    if contact and contact.timezone:
        try:
            return ZoneInfo(contact.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC_ZONE


def parse_when(value: Any, zone: ZoneInfo) -> datetime | None:
    """The moment a field value names, in `zone`; None when it is not a date."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=zone)
        return moment.astimezone(zone)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), DEFAULT_TIME_OF_DAY, zone)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    try:
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).astimezone(zone)
    except OverflowError:  # 9999-12-31T23:00Z is in year 10000 east of UTC: no date to act on
        return None


def in_year(moment: datetime, year: int) -> datetime:
    """The same day and time in another year (28 February for 29 February)."""
    try:
        return moment.replace(year=year)
    except ValueError:
        return moment.replace(year=year, day=28)


def shifted(moment: datetime, offset_seconds: int = 0, time_of_day: str | None = None) -> datetime:
    """`moment` plus an offset, then at `time_of_day` (HH:MM, same zone) if given."""
    moment = moment + timedelta(seconds=offset_seconds)
    if time_of_day:
        hour, minute = parse_time_of_day(time_of_day)
        moment = moment.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return moment


def moment_from_field(
    value: Any,
    zone: ZoneInfo,
    now: datetime,
    offset_seconds: int = 0,
    yearly: bool = False,
    time_of_day: str | None = None,
) -> datetime | None:
    """When a field-based wait ends: the field's date (with `yearly`, its next anniversary:
    today's counts even if its hour has passed) plus the offset, at `time_of_day`."""
    base = parse_when(value, zone)
    if base is None:
        return None
    try:  # a date at the edge of the calendar (0001-01-01 less a week): nothing to act on
        if not yearly:
            return shifted(base, offset_seconds, time_of_day)
        today = now.astimezone(zone).date()
        for year in range(today.year - 1, today.year + 2):
            candidate = shifted(in_year(base, year), offset_seconds, time_of_day)
            if candidate.date() >= today:
                return candidate
    except (OverflowError, ValueError):
        return None
    return None


def occurrence_on(
    value: Any,
    zone: ZoneInfo,
    day: date,
    offset_seconds: int = 0,
    yearly: bool = True,
    time_of_day: str | None = None,
) -> datetime | None:
    """The occurrence of a date trigger that falls on `day` (the contact's local date), or
    None: the field's date (each year's, when `yearly`) plus the offset."""
    base = parse_when(value, zone)
    if base is None:
        return None
    years = range(day.year - 1, day.year + 2) if yearly else [base.year]
    for year in years:
        try:  # past the calendar's edge (year 0 or 10000): no occurrence there
            candidate = shifted(in_year(base, year), offset_seconds, time_of_day)
        except (OverflowError, ValueError):
            continue
        if candidate.date() == day:
            return candidate
    return None
