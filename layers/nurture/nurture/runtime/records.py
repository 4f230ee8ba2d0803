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
    store: ActivityStore, contact_id: str, name: str, key: str, properties: dict[str, Any]
) -> bool:
    """Record something the system did or learned about a contact, once per `key`."""
    now = clock.iso(clock.now())
    return store.put_new(
        Activity(
            actor=f"contact:{contact_id}",
            contact_id=contact_id,
            message_id=stable_id(name, key, contact_id),
            kind=name.split(".")[0],
            name=name,
            occurred_at=now,
            received_at=now,
            properties=properties,
        )
    )


def record_changes(
    store: ActivityStore, contact_id: str, key: str, note: dict[str, Any], extra: dict[str, Any]
) -> None:
    """Record the field and stage changes of one update (`note` from `apply_fields` et al.)."""
    if note.get("fields"):
        record_activity(
            store, contact_id, "contact.field_changed", key, {"fields": note["fields"], **extra}
        )
    if note.get("stage"):
        record_activity(store, contact_id, "contact.stage_changed", key, {**note["stage"], **extra})
