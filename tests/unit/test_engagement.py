"""SES engagement events (as the configuration set publishes them to SNS) as activities."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from nurture import clock
from nurture.delivery.engagement import SES_EVENTS, activity_from_ses_event, record_ses_event
from nurture.runtime.triggers import waited_event_keys

if TYPE_CHECKING:
    from localcloud.fakes import InMemoryActivities

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 8, 12, 0, tzinfo=UTC)
TAGS = {
    "contact_id": ["c-1"],
    "program_id": ["welcome"],
    "step_id": ["welcome-1"],
    "execution": ["welcome--c-1"],
    "ses:configuration-set": ["nurture-EmailConfigurationSet"],
}


class FixedClock:
    def now(self) -> datetime:
        return NOW


@pytest.fixture(autouse=True)
def fixed_clock() -> Any:
    clock.set_clock(FixedClock())
    yield
    clock.set_clock(clock.SystemClock())


def ses_event(
    event_type: str,
    detail: dict[str, Any] | None = None,
    tags: dict[str, list[str]] | None = None,
    **mail: Any,
) -> dict[str, Any]:
    key = {"Rendering Failure": "failure", "DeliveryDelay": "deliveryDelay"}.get(
        event_type, event_type.lower()
    )
    return {
        "eventType": event_type,
        "mail": {
            "timestamp": "2026-01-05T09:00:00.000Z",
            "source": "hello@nurture.local",
            "messageId": "ses-1",
            "destination": ["ada@example.com"],
            "tags": TAGS if tags is None else tags,
            **mail,
        },
        key: detail or {},
    }


def test_a_click_is_the_contacts_email_clicked_activity() -> None:
    event = ses_event(
        "Click",
        {
            "timestamp": "2026-01-06T10:30:00.000Z",
            "link": "https://example.com/g",
            "ipAddress": "192.0.2.1",
            "userAgent": "Mozilla/5.0",
        },
    )
    activity = activity_from_ses_event(event)
    assert activity is not None
    assert (activity.actor, activity.contact_id) == ("contact:c-1", "c-1")
    assert (activity.kind, activity.name) == ("email", "email.clicked")
    assert activity.occurred_at == "2026-01-06T10:30:00.000Z"
    assert activity.received_at == "2026-01-08T12:00:00.000Z"
    assert activity.properties == {
        "program_id": "welcome",
        "step_id": "welcome-1",
        "execution": "welcome--c-1",
        "ses_message_id": "ses-1",
        "link": "https://example.com/g",
    }
    # it is what a "wait for a click on welcome-1" step of the welcome program waits for
    assert waited_event_keys(activity) == ["email.clicked:welcome:welcome-1"]
    # the reader's IP address and user agent are not kept
    assert "192.0.2.1" not in activity.model_dump_json()


def test_a_bounce_keeps_its_type() -> None:
    activity = activity_from_ses_event(
        ses_event(
            "Bounce",
            {
                "timestamp": "2026-01-05T09:00:05.000Z",
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "ada@example.com"}],
            },
        )
    )
    assert activity is not None
    assert activity.name == "email.bounced"
    assert (activity.properties["bounce_type"], activity.properties["bounce_subtype"]) == (
        "Permanent",
        "General",
    )


@pytest.mark.parametrize(("event_type", "name"), sorted(SES_EVENTS.items()))
def test_every_ses_event_type_has_an_activity_name(event_type: str, name: str) -> None:
    activity = activity_from_ses_event(
        ses_event(event_type, {"timestamp": "2026-01-05T09:01:00.000Z"})
    )
    assert activity is not None
    assert activity.name == name


def test_without_its_own_timestamp_an_event_dates_from_the_send() -> None:
    activity = activity_from_ses_event(ses_event("Send"))
    assert activity is not None
    assert activity.occurred_at == "2026-01-05T09:00:00.000Z"


def test_an_offset_timestamp_is_stored_as_utc_z() -> None:
    activity = activity_from_ses_event(
        ses_event("Open", {"timestamp": "2026-01-06T10:30:00.000+00:00"})
    )
    assert activity is not None
    assert activity.occurred_at == "2026-01-06T10:30:00.000Z"


def test_the_same_event_delivered_twice_gets_the_same_id_and_distinct_events_do_not() -> None:
    def message_id(event: dict[str, Any]) -> str:
        activity = activity_from_ses_event(event)
        assert activity is not None
        return activity.message_id

    click = ses_event(
        "Click", {"timestamp": "2026-01-06T10:30:00.000Z", "link": "https://example.com/a"}
    )
    assert message_id(click) == message_id(dict(click))
    other_link = ses_event(
        "Click", {"timestamp": "2026-01-06T10:30:00.000Z", "link": "https://example.com/b"}
    )
    later = ses_event(
        "Click", {"timestamp": "2026-01-06T10:31:00.000Z", "link": "https://example.com/a"}
    )
    an_open = ses_event("Open", {"timestamp": "2026-01-06T10:30:00.000Z"})
    assert (
        len({message_id(click), message_id(other_link), message_id(later), message_id(an_open)})
        == 4
    )


@pytest.mark.parametrize(
    "event",
    [
        ses_event("Click", tags={}),  # not sent by Nurture: no contact tag
        ses_event("Click", tags={"contact_id": []}),
        ses_event("Subscribe"),  # not an SES event type
        {"eventType": "Click"},  # no mail object
        {},
    ],
    ids=["no-tags", "empty-tag", "unknown-type", "no-mail", "empty"],
)
def test_events_nurture_cannot_attribute_are_ignored(event: dict[str, Any]) -> None:
    assert activity_from_ses_event(event) is None


def test_a_legacy_notification_is_understood() -> None:
    event = ses_event("Bounce", {"bounceType": "Transient"})
    event["notificationType"] = event.pop("eventType")
    activity = activity_from_ses_event(event)
    assert activity is not None
    assert activity.name == "email.bounced"


def test_recording_stores_once_and_ignores_foreign_mail(memory_store: InMemoryActivities) -> None:
    click = ses_event(
        "Click", {"timestamp": "2026-01-06T10:30:00.000Z", "link": "https://example.com/a"}
    )
    first = record_ses_event(click, memory_store)
    again = record_ses_event(click, memory_store)
    assert first is not None and again is not None
    assert list(memory_store.items) == [first.message_id]
    assert record_ses_event(ses_event("Click", tags={}), memory_store) is None
    assert len(memory_store.items) == 1
