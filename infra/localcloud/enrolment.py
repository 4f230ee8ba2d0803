"""A synthetic contact stored and the activity that enrols it, as `nurture simulate` (both
engines) and `nurture cost` enter one: its email and user id linked, then a cause of the
tool's own kind for the react function's Reactor to enrol it with."""

from __future__ import annotations

from typing import Any


def store_with_cause(contacts: Any, contact: Any, program_id: str, kind: str, now: str) -> Any:
    """Store `contact` through the contacts port and return the `Activity` (named `kind`,
    at `now`) that enrols it in `program_id`; the same contact and program give one id."""
    from nurture.ids import stable_id
    from nurture.tracking.events import Activity

    contact.actors = [f"email:{contact.email}", f"user:{contact.contact_id}"]
    stored = contacts.create_if_absent(contact, contact.email)
    for actor in contact.actors:
        contacts.link_actor(actor, stored.contact_id)
    contacts.save(contact)
    return Activity(
        actor=f"contact:{contact.contact_id}",
        contact_id=contact.contact_id,
        message_id=stable_id(kind, contact.contact_id, program_id),
        kind=kind,
        name=kind,
        occurred_at=now,
        received_at=now,
    )
