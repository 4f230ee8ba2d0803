"""Event names: Segment's semantic names as the spec writes them and the snake_case a
program may say are one event, for triggers, waits, goals and conditions alike."""

from __future__ import annotations

import pytest

from nurture.programs.conditions import event_name_matches
from nurture.programs.model import EventTrigger, trigger_key
from nurture.runtime.triggers import trigger_keys_for, waited_event_keys
from nurture.tracking.events import Activity
from nurture.tracking.names import event_key

pytestmark = pytest.mark.unit


def track(name: str, kind: str = "track") -> Activity:
    return Activity(
        actor="user:u",
        message_id=f"m-{name}",
        kind=kind,
        name=name,
        occurred_at="2026-01-05T09:00:00.000Z",
        received_at="2026-01-05T09:00:00.000Z",
    )


@pytest.mark.parametrize(
    "sent", ["Order Completed", "order_completed", "order-completed", " ORDER  Completed "]
)
@pytest.mark.parametrize("written", ["Order Completed", "order_completed"])
def test_semantic_and_snake_case_names_are_one_event(sent: str, written: str) -> None:
    activity = track(sent)
    # the trigger index finds the program ...
    assert trigger_key(EventTrigger(event=written)) in trigger_keys_for(activity)
    # ... its filters, goals and `did` conditions match ...
    assert event_name_matches(written, activity)
    # ... and a step waiting for the event is resumed
    assert f"track:{event_key(written)}" in waited_event_keys(activity)


def test_different_events_stay_different() -> None:
    assert not event_name_matches("Order Completed", track("Order Refunded"))
    assert not event_name_matches("email.clicked", track("Email Clicked"))
    assert event_key("email.clicked") == "email.clicked"


def test_screen_and_page_are_kinds_not_names() -> None:
    assert event_name_matches("screen", track("Home", kind="screen"))
    assert not event_name_matches("screen", track("screen"))
    assert "event:screen" in trigger_keys_for(track("Home", kind="screen"))
