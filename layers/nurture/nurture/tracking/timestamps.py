"""When an event happened, by Segment's rules.

A client stamps an event when it is made (`originalTimestamp`, or `timestamp` as most SDKs
name it) and the request when it is sent (`sentAt`); we note when it arrives (`receivedAt`).
A device clock can be wrong, but it is wrong by the same amount in both of its stamps, so
the time the event happened on our clock is

    timestamp = receivedAt - (sentAt - originalTimestamp)

Without `sentAt` the client's time is taken as it is (a server importing history). A time
still ahead of ours after that is clamped to `receivedAt`, with a note; one before the site
existed (`SITE_START_DATE`, e.g. a phone clock reset to 1970) is rejected, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Clocks that agree to within this are taken at their word (NTP-synced servers, queued batches).
FUTURE_TOLERANCE = timedelta(minutes=5)


class TimestampError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def in_utc(moment: datetime) -> datetime:
    """An aware time as UTC; raises ValueError when it does not exist there (an offset that
    carries `9999-12-31T23:59:59-23:59` into year 10000, or year 1 back into year 0)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{moment.isoformat()} is out of range once converted to UTC (years 1-9999)"
        ) from None


@dataclass(frozen=True)
class EventTime:
    occurred_at: datetime
    note: str | None = None  # why the time differs from what the client said, if it was clamped


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 86400:
        return f"{seconds // 86400} days"
    if seconds >= 3600:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes"


def event_time(
    *,
    timestamp: datetime | None,
    original_timestamp: datetime | None,
    sent_at: datetime | None,
    received_at: datetime,
    site_start: datetime | None = None,
) -> EventTime:
    """The event's time on our clock; raises TimestampError for a time before the site start."""
    field = "originalTimestamp" if original_timestamp is not None else "timestamp"
    original = original_timestamp or timestamp
    if original is None:
        return EventTime(received_at)
    try:
        occurred = received_at - (sent_at - original) if sent_at is not None else original
    except OverflowError:  # a device clock thousands of years off: nothing to correct by
        raise TimestampError(
            "sentAt",
            f"{sent_at.isoformat() if sent_at else ''} is too far from {field}"
            f" ({original.isoformat()}) to correct the device clock by",
        ) from None
    if site_start is not None and occurred < site_start:
        raise TimestampError(
            field,
            f"{original.isoformat()} is before the site started ({site_start.date().isoformat()},"
            " SITE_START_DATE); check the sender's clock",
        )
    if occurred > received_at + FUTURE_TOLERANCE:
        return EventTime(
            received_at,
            f"{field} was {_ago(occurred - received_at)} in the future;"
            " stored with the time it was received",
        )
    return EventTime(occurred)
