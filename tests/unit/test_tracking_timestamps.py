"""Segment's timestamp rules: skew correction from sentAt, clamping the future, refusing
times before the site existed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nurture.tracking.timestamps import TimestampError, event_time

pytestmark = pytest.mark.unit

RECEIVED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SITE_START = datetime(2024, 1, 1, tzinfo=UTC)


def test_without_any_client_time_the_event_happened_when_received() -> None:
    assert (
        event_time(
            timestamp=None, original_timestamp=None, sent_at=None, received_at=RECEIVED
        ).occurred_at
        == RECEIVED
    )


def test_a_device_clock_two_hours_fast_is_corrected_with_sent_at() -> None:
    # The device made the event at its 11:00 and sent it at its 11:05; we got it at 09:00
    fast = timedelta(hours=2)
    made = RECEIVED + fast - timedelta(minutes=5)
    result = event_time(
        timestamp=made, original_timestamp=None, sent_at=RECEIVED + fast, received_at=RECEIVED
    )
    # timestamp = receivedAt - (sentAt - originalTimestamp)
    assert result.occurred_at == RECEIVED - timedelta(minutes=5)
    assert result.note is None


def test_original_timestamp_is_preferred_to_timestamp() -> None:
    result = event_time(
        timestamp=RECEIVED,
        original_timestamp=RECEIVED - timedelta(minutes=1),
        sent_at=RECEIVED,
        received_at=RECEIVED,
    )
    assert result.occurred_at == RECEIVED - timedelta(minutes=1)


def test_a_server_importing_history_keeps_its_timestamps() -> None:
    old = datetime(2025, 3, 1, tzinfo=UTC)
    result = event_time(timestamp=old, original_timestamp=None, sent_at=None, received_at=RECEIVED)
    assert result.occurred_at == old


def test_a_time_far_in_the_future_is_clamped_with_a_note() -> None:
    result = event_time(
        timestamp=RECEIVED + timedelta(days=3),
        original_timestamp=None,
        sent_at=None,
        received_at=RECEIVED,
        site_start=SITE_START,
    )
    assert result.occurred_at == RECEIVED
    assert result.note == (
        "timestamp was 3 days in the future; stored with the time it was received"
    )
    # a clock a little ahead is taken at its word
    near = RECEIVED + timedelta(minutes=4)
    assert (
        event_time(
            timestamp=near, original_timestamp=None, sent_at=None, received_at=RECEIVED
        ).occurred_at
        == near
    )


def test_a_time_before_the_site_started_is_refused_with_the_reason() -> None:
    with pytest.raises(TimestampError) as raised:
        event_time(
            timestamp=None,
            original_timestamp=datetime(1970, 1, 1, tzinfo=UTC),
            sent_at=None,
            received_at=RECEIVED,
            site_start=SITE_START,
        )
    assert raised.value.field == "originalTimestamp"
    assert "before the site started (2024-01-01" in raised.value.reason
