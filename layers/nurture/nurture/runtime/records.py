"""What the runtime records about contacts, as activities under the contact's own actor key."""

from __future__ import annotations

from typing import Any

from nurture import clock
from nurture.contacts import Contact
from nurture.ids import stable_id
from nurture.ports import ActivityStore
from nurture.tracking.events import Activity


def contact_actors(contact: Contact) -> list[str]:
    """Every actor key a contact's activity is stored under, incl. what the system recorded."""
    return list(dict.fromkeys([*contact.actors, f"contact:{contact.contact_id}"]))


def record_activity(
    store: ActivityStore,
    contact_id: str,
    name: str,
    key: str,
    properties: dict[str, Any],
    at: str | None = None,
) -> bool:
    """Record something the system did or learned about a contact, once per `key`.

    `at`: when it happened, as every attempt to record it gives it - the time a change
    made with `ContactStore.apply_once` kept in its note (`noted`), which a retry gets back
    with the note. Every copy is then the same item (actor, time and message id), stored
    by one put on condition that it is new (`put_once`, 1 write unit); without it, the
    time is now, different at each attempt, and `put_new` keeps a marker per message id
    (2 puts)."""
    when = at or clock.iso(clock.now())
    activity = Activity(
        actor=f"contact:{contact_id}",
        contact_id=contact_id,
        message_id=stable_id(name, key, contact_id),
        kind=name.split(".")[0],
        name=name,
        occurred_at=when,
        received_at=when,
        properties=properties,
    )
    return store.put_once(activity) if at else store.put_new(activity)


def noted(note: dict[str, Any] | None) -> dict[str, Any] | None:
    """A change's note with the time it was made (`at`), for what records it
    (`record_activity(..., at=note["at"])`): kept with the change's key, so a retry that
    finds the change made gets the same time back. Notes kept before this have none."""
    if note is not None:
        note["at"] = clock.iso(clock.now())
    return note


def record_changes(
    store: ActivityStore, contact_id: str, key: str, note: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Record the field and stage changes of one update (`note` from `apply_fields` et al.;
    its `at`, if `noted`, dates them)."""
    at = note.get("at")
    if note.get("fields"):
        record_activity(
            store, contact_id, "contact.field_changed", key, {"fields": note["fields"], **extra}, at
        )
    if note.get("stage"):
        record_activity(
            store, contact_id, "contact.stage_changed", key, {**note["stage"], **extra}, at
        )
