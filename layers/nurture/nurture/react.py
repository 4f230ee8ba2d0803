"""Reacting to stored activity: who is this (identity merge), what starts (triggers), and
which waiting program steps it resumes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nurture import clock
from nurture.contacts import PROFILE_FIELDS, Consent, Contact, looks_like_email, normalise_email
from nurture.events import Activity
from nurture.ids import new_contact_id, stable_id
from nurture.ports import ActivityStore, ContactStore, StateStore, Workflows

# Activity kinds this system writes about itself; they never identify anyone.
INTERNAL_KINDS = ("program", "contact")


@dataclass
class Reactor:
    contacts: ContactStore
    activities: ActivityStore
    state: StateStore
    workflows: Workflows

    def handle(self, activity: Activity) -> None:
        contact = self._identify(activity)
        if contact is None:
            return  # still anonymous: stored, and joined to the contact once they identify
        for trigger in self._trigger_keys(activity):
            for program_id in self.state.programs_for_trigger(trigger):
                self.enrol(program_id, contact, activity)
        self._resume_waits(contact.contact_id, activity)

    # --- identity -------------------------------------------------------------------
    def _identify(self, activity: Activity) -> Contact | None:
        if activity.contact_id:
            return self.contacts.get(activity.contact_id)
        email, fields, consents = _identity_claims(activity)
        known_id = self.contacts.contact_for_actor(activity.actor)
        if email is None:
            return self.contacts.get(known_id) if known_id else None
        now = clock.iso(clock.now())
        fresh = Contact(contact_id=new_contact_id(), created_at=now, updated_at=now, email=email)
        contact = self.contacts.create_if_absent(fresh, email)
        new_actors = [a for a in _actors_of(activity, email) if a not in contact.actors]
        for actor in new_actors:
            self.contacts.link_actor(actor, contact.contact_id)
        _apply_fields(contact, fields)
        for consent in consents:
            record = Consent(status="granted", at=activity.occurred_at, **consent)
            contact.consent[record.key] = record
        contact.actors.extend(new_actors)
        contact.updated_at = now
        self.contacts.save(contact)
        if new_actors:
            self._record(contact, "contact.identified", activity, {
                "created": contact.contact_id == fresh.contact_id,
                "joined_actors": len(new_actors),
            })
        return contact

    # --- triggers -------------------------------------------------------------------
    @staticmethod
    def _trigger_keys(activity: Activity) -> list[str]:
        if activity.kind == "form":
            return [f"form:{activity.name}"]
        if activity.kind == "track":
            return [f"event:{activity.name}"]
        return []

    def enrol(self, program_id: str, contact: Contact, cause: Activity) -> bool:
        program = self.state.get_program(program_id)
        if program is None or program.status != "live":
            return False
        execution = f"{program_id}--{contact.contact_id}"
        claim = self.state.claim_enrolment(program_id, contact.contact_id, execution)
        if claim == "started":
            return False
        payload = {
            "contact_id": contact.contact_id,
            "program_id": program_id,
            "trigger": {"kind": cause.kind, "name": cause.name, "message_id": cause.message_id,
                        "occurred_at": cause.occurred_at},
        }
        self.workflows.start(program.alias_arn, execution, payload)
        self.state.mark_enrolment_started(program_id, contact.contact_id)
        self._record(contact, "program.entered", cause, {"program_id": program_id,
                                                          "version": program.version})
        return True

    # --- waits ----------------------------------------------------------------------
    def _resume_waits(self, contact_id: str, activity: Activity) -> None:
        for key in waited_event_keys(activity):
            for wait in self.state.waits_for(contact_id, key):
                self.workflows.resume(wait.task_token, {"event": activity.name,
                                                        "message_id": activity.message_id,
                                                        "occurred_at": activity.occurred_at})
                self.state.remove_wait(wait)

    def _record(self, contact: Contact, name: str, cause: Activity, properties: dict[str, Any]) -> None:
        now = clock.iso(clock.now())
        self.activities.put_new(Activity(
            actor=f"contact:{contact.contact_id}", contact_id=contact.contact_id,
            message_id=stable_id(name, cause.message_id, contact.contact_id, str(properties.get("program_id"))),
            kind=name.split(".")[0], name=name, occurred_at=now, received_at=now,
            properties=properties,
        ))


def waited_event_keys(activity: Activity) -> list[str]:
    """Keys under which a waiting step may be registered for this activity."""
    if activity.kind == "email":
        props = activity.properties
        return [f"{activity.name}:{props.get('program_id')}:{props.get('step_id')}"]
    if activity.kind == "track":
        return [f"track:{activity.name}"]
    if activity.kind == "form":
        return [f"form:{activity.name}"]
    return []


def _identity_claims(activity: Activity) -> tuple[str | None, dict[str, Any], list[dict[str, Any]]]:
    if activity.kind == "identify":
        email = activity.traits.get("email")
        fields = {k: v for k, v in activity.traits.items() if k != "email"}
        consents: list[dict[str, Any]] = []
    elif activity.kind == "form":
        fields = dict(activity.properties.get("fields", {}))
        email = fields.pop("email", None)
        consents = list(activity.properties.get("consent", []))
    else:
        return None, {}, []
    if not isinstance(email, str) or not looks_like_email(email):
        return None, {}, []
    return normalise_email(email), fields, consents


def _actors_of(activity: Activity, email: str) -> list[str]:
    actors = [activity.actor, f"email:{email}"]
    if activity.anonymous_id:
        actors.append(f"anon:{activity.anonymous_id}")
    if activity.user_id:
        actors.append(f"user:{activity.user_id}")
    return list(dict.fromkeys(actors))


_TRAIT_ALIASES = {"firstName": "first_name", "lastName": "last_name", "title": "job_title"}


def _apply_fields(contact: Contact, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        name = _TRAIT_ALIASES.get(name, name)
        if name.startswith("fields."):
            contact.fields[name.removeprefix("fields.")] = value
        elif name in PROFILE_FIELDS and name != "email":
            setattr(contact, name, None if value is None else str(value))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            contact.fields[name] = value
