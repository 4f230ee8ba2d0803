"""Pure parts of the program runtime: dates in fields, A/B buckets, trigger keys, field
changes, where filters and score crossings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from nurture.contacts import Contact
from nurture.dates import moment_from_field, occurrence_on
from nurture.programs.model import Program
from nurture.runtime.actions import split_bucket
from nurture.runtime.identity import apply_fields
from nurture.runtime.triggers import trigger_keys_for, trigger_matches, where_matches
from nurture.runtime.view import ContactView
from nurture.tracking.events import Activity

pytestmark = pytest.mark.unit

UTC_ZONE = ZoneInfo("UTC")
HELSINKI = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def activity(name: str, kind: str = "track", **properties: object) -> Activity:
    return Activity(
        actor="contact:c1",
        contact_id="c1",
        message_id=f"m-{name}",
        kind=kind,
        name=name,
        occurred_at="2026-06-15T12:00:00.000Z",
        received_at="2026-06-15T12:00:00.000Z",
        properties=properties,
    )


def contact(**fields: object) -> Contact:
    return Contact(contact_id="c1", created_at="x", updated_at="x", email="a@example.com", **fields)


# --- dates -------------------------------------------------------------------------------
def test_a_date_alone_means_nine_in_the_morning_in_the_contacts_zone() -> None:
    moment = moment_from_field("2026-07-01", HELSINKI, NOW)
    assert moment == datetime(2026, 7, 1, 9, 0, tzinfo=HELSINKI)


def test_offsets_and_time_of_day() -> None:
    event = "2026-07-10T17:00:00+03:00"
    two_days_before = moment_from_field(event, HELSINKI, NOW, offset_seconds=-2 * 86400)
    assert two_days_before == datetime(2026, 7, 8, 17, 0, tzinfo=HELSINKI)
    morning_of = moment_from_field(event, HELSINKI, NOW, time_of_day="08:00")
    assert morning_of == datetime(2026, 7, 10, 8, 0, tzinfo=HELSINKI)


def test_yearly_takes_the_next_anniversary_and_today_counts() -> None:
    assert moment_from_field("1990-03-01", UTC_ZONE, NOW, yearly=True) == datetime(
        2027, 3, 1, 9, 0, tzinfo=UTC_ZONE
    )
    later_today = moment_from_field("1990-06-15", UTC_ZONE, NOW, yearly=True, time_of_day="18:00")
    assert later_today == datetime(2026, 6, 15, 18, 0, tzinfo=UTC_ZONE)
    passed_today = moment_from_field("1990-06-15", UTC_ZONE, NOW, yearly=True)
    assert passed_today == datetime(2026, 6, 15, 9, 0, tzinfo=UTC_ZONE)  # past: go on at once
    leap = moment_from_field("1992-02-29", UTC_ZONE, NOW, yearly=True)
    assert leap == datetime(2027, 2, 28, 9, 0, tzinfo=UTC_ZONE)


def test_not_a_date() -> None:
    assert moment_from_field("soon", UTC_ZONE, NOW) is None
    assert moment_from_field(None, UTC_ZONE, NOW) is None


def test_date_trigger_occurrences() -> None:
    assert occurrence_on("1990-06-15", UTC_ZONE, date(2026, 6, 15)) is not None
    assert occurrence_on("1990-06-15", UTC_ZONE, date(2026, 6, 14)) is None
    month_before = occurrence_on("2026-07-15", UTC_ZONE, date(2026, 6, 15), -30 * 86400, False)
    assert month_before is not None and month_before.date() == date(2026, 6, 15)
    assert occurrence_on("2025-07-15", UTC_ZONE, date(2026, 6, 15), -30 * 86400, False) is None


# --- split -------------------------------------------------------------------------------
def test_split_buckets_are_stable_and_spread_evenly() -> None:
    assert split_bucket("run-1", "ab") == split_bucket("run-1", "ab")
    buckets = [split_bucket(f"run-{i}", "ab") for i in range(4000)]
    assert all(0 <= b < 100 for b in buckets)
    below_30 = sum(b < 30 for b in buckets) / len(buckets)
    assert 0.27 < below_30 < 0.33


# Webhook addresses, transport and signatures: test_webhook_addresses.py, test_webhook_transport.py


# --- triggers ------------------------------------------------------------------------------
def test_trigger_keys_for_each_kind_of_activity() -> None:
    assert trigger_keys_for(activity("purchase")) == ["event:purchase", "segment"]
    assert trigger_keys_for(activity("Pricing", kind="page")) == ["event:page", "segment"]
    assert trigger_keys_for(activity("guide", kind="form"))[:3] == [
        "form:guide",
        "event:form:guide",
        "event:form",
    ]
    changed = activity("contact.field_changed", kind="contact", fields=["postal_address", "city"])
    assert trigger_keys_for(changed) == [
        "field_changed:postal_address",
        "field_changed:city",
        "segment",
    ]
    assert trigger_keys_for(activity("program.entered", kind="program")) == []


def test_field_changes_count_replaced_values_only() -> None:
    person = contact(postal_address="Old Street 1")
    changes = apply_fields(person, {"postal_address": "New Road 5", "phone": "+3584000", "plan": 2})
    assert changes.set == ["postal_address", "phone", "plan"]
    assert changes.replaced == ["postal_address"]
    assert person.fields["plan"] == 2 and person.phone == "+3584000"
    assert not apply_fields(person, {"postal_address": "New Road 5", "email": "x@example.com"})
    stage = apply_fields(person, {"stage": "customer"})
    assert stage.stage == {"from": "subscriber", "to": "customer"} and person.stage == "customer"


def test_where_filters_on_a_waited_event() -> None:
    shoes = activity("purchase", category="shoes", total=120)
    assert where_matches({"category": "shoes"}, shoes)
    assert where_matches({"category": ["hats", "shoes"], "total": {"gte": 100}}, shoes)
    assert not where_matches({"category": "hats"}, shoes)


def program(trigger: dict[str, object]) -> Program:
    return Program.model_validate(
        {
            "id": "p",
            "name": "p",
            "trigger": trigger,
            "steps": [{"id": "done", "type": "end"}],
        }
    )


def test_score_crossing_up_and_down() -> None:
    view = ContactView(contact(), None)  # type: ignore[arg-type]
    up, down = program({"score_crossed": 50}), program({"score_crossed": 50, "direction": "down"})

    def crossed(p: Program, old: int, new: int) -> bool:
        return trigger_matches(
            p, activity("contact.score_changed", kind="contact", old=old, new=new), view
        )

    assert crossed(up, 25, 50) and crossed(up, 40, 90)
    assert not crossed(up, 50, 75) and not crossed(up, 60, 40)
    assert crossed(down, 60, 40) and not crossed(down, 40, 60) and not crossed(down, 49, 10)


def test_event_trigger_where_filter() -> None:
    trips = program({"event": "order_completed", "where": {"category": "trips"}})
    view = ContactView(contact(), None)  # type: ignore[arg-type]
    assert trigger_matches(trips, activity("order_completed", category="trips"), view)
    assert not trigger_matches(trips, activity("order_completed", category="books"), view)
