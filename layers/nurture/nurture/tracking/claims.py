"""Claims: what a public-key identify or form post that names a known contact may do.

Anyone can put a known contact's email in a form, so such a post proves nothing. It is kept
and shown on the contact (`contact.claimed`), counts as activity (it can start the program
its form triggers, whose sends still need the contact's own consent), and it may ask for
consent: the consents it carries become a double opt-in request, so the confirmation email
goes to the contact's real address and only following that link grants them. It never
changes the profile, the stage or a consent the contact has, and never joins the visitor's
history to the contact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nurture import clock
from nurture.contacts import Consent, Contact
from nurture.delivery.consent import marketing_permission
from nurture.ports import ContactStore
from nurture.tracking.actor_budget import admit, record_dropped
from nurture.tracking.events import Activity


def requested_consents(contact: Contact, consents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The consents a claim asks for, as pending records: only those the contact does not
    already allow, so a claim can never turn an allowed message into a blocked one."""
    requested = []
    for consent in consents:
        channel, topic = str(consent.get("channel")), str(consent.get("topic", "marketing"))
        if marketing_permission(contact, channel, topic).allowed:
            continue
        requested.append({**consent, "status": "pending"})
    return requested


def claim_properties(
    activity: Activity, fields: dict[str, Any], requested: list[dict[str, Any]]
) -> dict[str, Any]:
    """What `contact.claimed` records: who claimed, how, and what was claimed."""
    return {
        "via": activity.kind,  # identify | form
        "name": activity.name,
        "message_id": activity.message_id,
        "actor": activity.actor,
        "trust": activity.trust,
        "fields": fields,
        "consent_requested": [
            f"{c.get('channel')}:{c.get('topic', 'marketing')}" for c in requested
        ],
    }


def with_consents(activity: Activity, consents: list[dict[str, Any]]) -> Activity:
    """The activity as the double opt-in sender reads it, with the consents a claim asks for."""
    return activity.model_copy(update={"properties": {**activity.properties, "consent": consents}})


class Record(Protocol):
    """record_activity(contact_id, name, key, properties, at), bound to the activity store
    (nurture.runtime.identity)."""

    def __call__(
        self, contact_id: str, name: str, key: str, properties: dict[str, Any], at: str | None = ...
    ) -> object: ...


@dataclass
class IdentityClaims:
    """What the react function does with activity that may not change the contact it names,
    and with a visit proven by a signed email click."""

    contacts: ContactStore
    record: Record
    on_pending_consent: Callable[[str, Activity], object] | None = None

    def claim(
        self,
        contact_id: str,
        activity: Activity,
        fields: dict[str, Any],
        consents: list[dict[str, Any]],
    ) -> Contact | None:
        """Record the claim on the contact; ask for (never grant) the consents it carries."""
        contact = self.contacts.get(contact_id)
        if contact is None:
            return None
        requested = requested_consents(contact, consents)
        if requested:

            def ask(current: Contact) -> dict[str, Any] | None:
                for consent in requested_consents(current, requested):
                    record = Consent.model_validate({"at": activity.occurred_at, **consent})
                    current.consent[record.key] = record
                current.updated_at = clock.iso(clock.now())
                return {}

            self.contacts.apply_once(contact_id, f"claim#{activity.message_id}", ask)
        properties = claim_properties(activity, fields, requested)
        # Dated by the claiming activity's arrival, as every copy of it is: a retry makes the
        # same item, stored once by one conditional put (runtime.records.record_activity).
        self.record(
            contact_id, "contact.claimed", activity.message_id, properties, activity.received_at
        )
        if requested and self.on_pending_consent:
            # the confirmation goes to the contact's own address: only they can grant it
            self.on_pending_consent(contact_id, with_consents(activity, requested))
        return self.contacts.get(contact_id)

    def join_clicked(self, activity: Activity, via: str = "email_click") -> Contact | None:
        """The browser (its anonymous id) that landed from a signed link joins the contact the
        link was signed for. A userId sent beside it is not proven by the link: not joined."""
        contact_id = str(activity.contact_id)
        contact = self.contacts.get(contact_id)
        browser = f"anon:{activity.anonymous_id}" if activity.anonymous_id else None
        if contact is None or browser is None or browser in contact.actors:
            return contact
        _, over = admit(contact.actors, [browser])
        if over:  # the contact's actor budget: the browser stays anonymous
            record_dropped(self.record, contact_id, activity.message_id, over)
            return contact
        self.contacts.link_actor(browser, contact_id)

        def join(current: Contact) -> dict[str, Any] | None:
            if browser in current.actors:
                return None
            current.actors.append(browser)
            current.updated_at = clock.iso(clock.now())
            return {}

        self.contacts.apply_once(contact_id, f"profile#{activity.message_id}", join)
        joined = {"created": False, "joined_actors": 1, "actors": [browser], "via": via}
        self.record(contact_id, "contact.identified", activity.message_id, joined)
        return self.contacts.get(contact_id)
