"""Dates in contact fields at the calendar's edges (years 1 and 9999): a program that acts
on them finds no moment, never an OverflowError that fails the react or steps function on
every retry (the time-offset family of the hostile-input 500s, #13)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from nurture.dates import UTC_ZONE, moment_from_field, occurrence_on, parse_when

pytestmark = pytest.mark.unit

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
DAY = 86400


def test_a_moment_that_is_in_year_10000_in_the_contacts_zone_is_no_date() -> None:
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14
    assert parse_when("9999-12-31T23:00:00Z", kiritimati) is None
    assert parse_when("9999-12-31T09:00:00Z", kiritimati) == datetime(
        9999, 12, 31, 23, tzinfo=kiritimati
    )


@pytest.mark.parametrize(
    ("value", "offset"),
    [("9999-12-31", 3 * DAY), ("0001-01-01", -3 * DAY), ("9999-12-31T20:00:00Z", DAY)],
)
def test_an_offset_past_the_calendars_edge_is_no_moment(value: str, offset: int) -> None:
    assert moment_from_field(value, UTC_ZONE, NOW, offset_seconds=offset) is None
    assert occurrence_on(value, UTC_ZONE, date(9999, 12, 31), offset, yearly=False) is None


def test_ordinary_dates_still_act() -> None:
    assert moment_from_field("2026-05-01", UTC_ZONE, NOW, offset_seconds=DAY) == datetime(
        2026, 5, 2, 9, tzinfo=UTC_ZONE
    )
    # a yearly date far in the past still has this year's anniversary
    assert moment_from_field("0001-03-05", UTC_ZONE, NOW, yearly=True) == datetime(
        2026, 3, 5, 9, tzinfo=UTC_ZONE
    )
    assert occurrence_on("1990-03-01", UTC_ZONE, date(2026, 3, 1)) == datetime(
        2026, 3, 1, 9, tzinfo=UTC_ZONE
    )
