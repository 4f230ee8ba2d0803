"""Send windows and frequency caps at their edges: every spelling of "no limit", each
refusal's reason, day ranges that wrap the week, an overnight window after midnight, the
instants a window opens and closes, and what a cap decision counts."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from nurture.delivery.caps import FrequencyCap, evaluate
from nurture.delivery.windows import SendWindow

pytestmark = pytest.mark.unit
DAY = 86400
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _refusal(parse: object, text: str) -> str:
    with pytest.raises(ValueError) as refused:
        parse(text)  # type: ignore[operator]
    return str(refused.value)


# --- windows -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "  ", "always", "any", "none", " ANY ", "None"])
def test_every_spelling_of_no_quiet_hours(text: str) -> None:
    assert SendWindow.parse(text) is None


def test_a_window_without_days_is_every_day() -> None:
    window = SendWindow.parse("08:00-20:00")
    assert window == SendWindow(time(8), time(20), frozenset({MON, TUE, WED, THU, FRI, SAT, SUN}))


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("sat 10:00-14:00", {SAT}),
        ("mon-sun 10:00-14:00", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("fri-mon 10:00-14:00", {FRI, SAT, SUN, MON}),  # wraps the week
        ("sun-mon 10:00-14:00", {SUN, MON}),
        ("wed-tue 10:00-14:00", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("tue-thu 10:00-14:00", {TUE, WED, THU}),
    ],
)
def test_day_ranges_including_ones_that_wrap_the_week(text: str, days: set[int]) -> None:
    window = SendWindow.parse(text)
    assert window is not None and window.days == frozenset(days)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "9 to 5",
            "'9 to 5' is not a send window; write e.g. '08:00-20:00' or 'mon-fri 09:00-17:00'",
        ),
        ("25:00-26:00", "'25:00-26:00': hour must be in 0..23"),
        ("09:00-09:00", "'09:00-09:00': the window is empty"),
        ("xyz 09:00-17:00", "'xyz 09:00-17:00': days are mon, tue, wed, thu, fri, sat, sun"),
        (
            "mon-xyz 09:00-17:00",
            "'mon-xyz 09:00-17:00': days are mon, tue, wed, thu, fri, sat, sun",
        ),
        (
            "xyz-mon 09:00-17:00",
            "'xyz-mon 09:00-17:00': days are mon, tue, wed, thu, fri, sat, sun",
        ),
    ],
)
def test_each_bad_window_says_why(text: str, reason: str) -> None:
    assert _refusal(SendWindow.parse, text) == reason


def _next(window: str, now: str, zone: str = "UTC") -> datetime | None:
    parsed = SendWindow.parse(window)
    assert parsed is not None
    return parsed.next_opening(datetime.fromisoformat(now).replace(tzinfo=UTC), ZoneInfo(zone))


def test_an_overnight_window_is_open_at_one_in_the_morning() -> None:
    # 20:00-02:00 opened yesterday evening: at 01:00 it is still open
    assert _next("20:00-02:00", "2026-01-06T01:00:00") is None
    assert _next("20:00-02:00", "2026-01-06T01:59:59") is None
    assert _next("20:00-02:00", "2026-01-06T02:00:00") == datetime(2026, 1, 6, 20, tzinfo=UTC)


def test_an_overnight_window_on_given_days_belongs_to_the_day_it_opens() -> None:
    # "fri 22:00-03:00" is open in the small hours of Saturday, not of Friday
    assert _next("fri 22:00-03:00", "2026-01-10T01:00:00") is None  # Saturday 01:00
    assert _next("fri 22:00-03:00", "2026-01-09T01:00:00") == datetime(2026, 1, 9, 22, tzinfo=UTC)


def test_a_window_opens_at_its_first_instant_and_closes_at_its_last() -> None:
    assert _next("09:00-17:00", "2026-01-05T09:00:00") is None
    assert _next("09:00-17:00", "2026-01-05T08:59:59") == datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert _next("09:00-17:00", "2026-01-05T17:00:00") == datetime(2026, 1, 6, 9, tzinfo=UTC)


def test_the_local_day_is_the_contacts_not_utcs() -> None:
    # 2026-01-05 23:30 UTC is already Tuesday 13:30 in Kiritimati (UTC+14): a Tuesday window
    # is open there, though it is Monday in UTC
    assert _next("tue 09:00-17:00", "2026-01-05T23:30:00", "Pacific/Kiritimati") is None
    # Monday 10:00 UTC is Monday 00:00 in Honolulu (UTC-10): the window opens at 09:00 there
    found = _next("mon 09:00-17:00", "2026-01-05T10:00:00", "Pacific/Honolulu")
    assert found == datetime(2026, 1, 5, 19, tzinfo=UTC)


def test_openings_are_given_in_utc() -> None:
    found = _next("08:00-20:00", "2026-01-05T01:00:00", "Europe/Helsinki")
    assert found is not None and found.utcoffset() is not None
    assert found.tzinfo == UTC


# --- caps ------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", " ", "none", "off", " OFF ", "None"])
def test_every_spelling_of_no_cap(text: str) -> None:
    assert FrequencyCap.parse(text) is None


@pytest.mark.parametrize(
    ("text", "cap"),
    [
        ("1/1d", FrequencyCap(1, DAY)),
        ("1/1h", FrequencyCap(1, 3600)),
        ("2/12h", FrequencyCap(2, 12 * 3600)),
        (" 3 / 7 D ", FrequencyCap(3, 7 * DAY)),
    ],
)
def test_a_cap_is_a_count_per_hours_or_days(text: str, cap: FrequencyCap) -> None:
    assert FrequencyCap.parse(text) == cap


@pytest.mark.parametrize("text", ["0/7d", "3/0d", "0/0h", "three a week", "3/7w", "-1/7d"])
def test_each_bad_cap_says_what_is_accepted(text: str) -> None:
    assert _refusal(FrequencyCap.parse, text) == (
        f"{text!r} is not a frequency cap; write e.g. '3/7d' (3 per 7 days) or '2/12h'"
    )


def test_a_retried_send_is_allowed_and_counted_once() -> None:
    sends = [(100, "a"), (200, "b")]
    decision = evaluate(sends, 300, "b", 2, DAY)
    assert decision.allowed and decision.release_at is None
    assert decision.counted == [(100, "a"), (200, "b")]


def test_a_refused_send_keeps_the_counted_sends_and_says_when() -> None:
    sends = [(300, "c"), (100, "a"), (200, "b"), (-DAY, "old")]  # unsorted, one expired
    decision = evaluate(sends, 400, "d", 3, DAY)
    assert not decision.allowed
    assert decision.release_at == 100 + DAY
    assert decision.counted == [(100, "a"), (200, "b"), (300, "c")]


def test_a_send_leaves_the_window_exactly_window_seconds_later() -> None:
    sends = [(100, "a")]
    assert not evaluate(sends, 100 + DAY - 1, "b", 1, DAY).allowed
    allowed = evaluate(sends, 100 + DAY, "b", 1, DAY)
    assert allowed.allowed and allowed.counted == [(100 + DAY, "b")]
