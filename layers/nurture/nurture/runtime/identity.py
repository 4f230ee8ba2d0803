"""Who an activity is about: identity merge, profile and consent changes, and claims.

Who may change a known contact is decided by `nurture.tracking.trust` (see the README): a
public key may create a contact but only a trusted sender, a verified identity or a signed
email click may change one or join a visitor's history to it; anything else is a claim."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nurture import clock
from nurture.contacts import (
    PROFILE_FIELDS,
    STAGE_ORDER,
    Consent,
    Contact,
)
from nurture.ids import new_contact_id
from nurture.ports import ActivityStore, ContactStore
from nurture.runtime.field_budget import FieldBudget, record_dropped
from nurture.runtime.records import noted, record_activity, record_changes
from nurture.tracking.actor_budget import admit
from nurture.tracking.actor_budget import record_dropped as record_over_budget
from nurture.tracking.claims import IdentityClaims, Record
from nurture.tracking.events import Activity
from nurture.tracking.identity import (
    RELEASED,
    adopt,
    apply_alias,
    claimed_email,
    contact_for_user,
    given_email,
    release_actors,
    unproven,
)
from nurture.tracking.trust import may_change_known

STAGES = (*STAGE_ORDER, "former_customer", "recycled", "disqualified")
# How much of a joining visitor's history is searched for their `group` call.
VISITOR_HISTORY = 500


@dataclass
class Identities:
    contacts: ContactStore
    activities: ActivityStore
    # Double opt-in: called with (contact id, form activity) when a form left consents
    # pending; delivery sends the confirmation email (nurture.delivery.confirmation).
    on_pending_consent: Callable[[str, Activity], object] | None = None

    def identify(self, activity: Activity) -> Contact | None:
        # Who may change a known contact: see nurture.tracking.trust and the README.
        if activity.contact_id:
            confirmed_by = activity.properties.get("browser")
            if activity.name == "consent.confirmed" and isinstance(confirmed_by, str):
                # the browser that followed a double opt-in link: proven as a click is
                activity = activity.model_copy(update={"anonymous_id": confirmed_by})
            elif activity.trust != "signed_link":
                return self.contacts.get(str(activity.contact_id))
            if activity.anonymous_id:
                self._adopt_clicked(activity)
                owner = self._browser_owner(activity)
                via = "email_click" if activity.trust == "signed_link" else "confirmation"
                clicked = self._claims().join_clicked(activity, via)
                if clicked is not None and owner not in (None, clicked.contact_id):
                    # the click proved the browser: it leaves the contact that had it
                    release_actors(
                        self.contacts,
                        str(owner),
                        [f"anon:{activity.anonymous_id}"],
                        clicked.contact_id,
                    )
                if clicked is not None:
                    self._account_of_visitor(clicked.contact_id, [f"anon:{activity.anonymous_id}"])
                    return self.contacts.get(clicked.contact_id)
                return clicked
            self._adopt_clicked(activity)  # a click without a browser id proves the mailbox
            return self.contacts.get(str(activity.contact_id))
        if activity.kind == "alias":
            return self._alias(activity)
        email, fields, consents = _identity_claims(activity)
        known_id = self.contacts.contact_for_actor(activity.actor)
        trusted = may_change_known(activity.trust)
        if email is None:
            known_contact = self.contacts.get(known_id) if known_id else None
            squatted = trusted and unproven(known_contact)
            if activity.kind == "identify" and activity.user_id and (known_id is None or squatted):
                return self._known_by_user_id(activity, fields)
            if known_id is None:
                return None
            if squatted and activity.user_id:
                # the site's word about a user id a public key put on a contact: the user id
                # moves to a contact of its own (README, "Who may change a contact")
                return contact_for_user(self.contacts, activity.user_id, activity.trust)[0]
            if fields and not trusted:
                return self._claims().claim(known_id, activity, fields, [])
            # e.g. a CRM's identify call with a new address for a known user; by a browser id
            # alone, the site's word about whoever holds it (adopting nothing)
            if fields:
                self._update_profile(known_id, activity, fields, [], [], created=False)
                return self.contacts.get(known_id)
            return known_contact
        now = clock.iso(clock.now())
        fresh = Contact(
            contact_id=new_contact_id(),
            created_at=now,
            updated_at=now,
            email=email,
            created_by=activity.message_id,
            created_trust=activity.trust,
            programs_entered=[],  # a new contact id: no enrolment yet (runtime.react)
        )
        known = self.contacts.get(known_id) if known_id and trusted else None
        # known by user id until now; never what a public key made of a user id alone
        if known is not None and known.email is None and not unproven(known):
            fresh = known.model_copy(update={"email": email, "updated_at": now})
        contact = self.contacts.create_if_absent(fresh, email)
        created = contact.contact_id == fresh.contact_id and fresh is not known
        if not created and contact.created_by == activity.message_id:
            created = True  # this activity made the contact: a replay of the same batch
        if not created and not trusted:
            return self._claims().claim(contact.contact_id, activity, fields, consents)
        if not created and unproven(contact):  # the site names an address a public key used
            contact = self._adopt(contact, _actors_of(activity, email), activity)
        new_actors = [
            a
            for a in _actors_of(activity, email)
            if a not in contact.actors
            # a public key creates a contact but never takes a key another contact holds
            and (trusted or self.contacts.contact_for_actor(a) in (None, contact.contact_id))
        ]
        new_actors, over = admit(contact.actors, new_actors)  # the contact's actor budget
        record_over_budget(self._record, contact.contact_id, activity.message_id, over)
        self._take(new_actors, contact.contact_id, trusted)
        at = self._update_profile(
            contact.contact_id, activity, fields, consents, new_actors, created
        )
        self._account_of_visitor(contact.contact_id, new_actors)
        if self.on_pending_consent and any(c.get("status") == "pending" for c in consents):
            self.on_pending_consent(contact.contact_id, activity)
        if new_actors:
            record_activity(
                self.activities,
                contact.contact_id,
                "contact.identified",
                activity.message_id,
                # the actor keys let the activity lake join anonymous visits to the contact;
                # `by`: the kind of activity that joined them (scoring regraded on it)
                {
                    "created": created,
                    "joined_actors": len(new_actors),
                    "actors": new_actors,
                    "by": activity.kind,
                },
                at,
            )
        return self.contacts.get(contact.contact_id)

    def _adopt(self, squatted: Contact, named: list[str], activity: Activity) -> Contact:
        """A trusted call adopts a contact a public key made (tracking.identity.adopt); what
        it does not name or prove moves to an orphan contact, whose history joins it there."""
        trust = "double_opt_in" if activity.name == "consent.confirmed" else activity.trust
        outcome = adopt(self.contacts, squatted, named, trust)
        orphan = outcome.orphan
        if orphan is not None:
            moved = {"actors": outcome.released, "by": activity.trust}
            record_activity(
                self.activities,
                squatted.contact_id,
                RELEASED,
                "adopt",  # once per contact, like the decision
                {**moved, "orphan": orphan.contact_id, "message_id": activity.message_id},
            )
            # not "created": reports count no new contact for it
            joined = {"created": False, "joined_actors": len(outcome.released)}
            record_activity(
                self.activities,
                orphan.contact_id,
                "contact.identified",
                f"released#{squatted.contact_id}",
                {**joined, "actors": outcome.released, "released_by": squatted.contact_id},
            )
        return outcome.contact

    def _adopt_clicked(self, activity: Activity) -> None:
        """A signed click proves its browser reads the mailbox of the contact the link was
        emailed to: an unproven contact is adopted keeping that browser."""
        contact = self.contacts.get(str(activity.contact_id))
        if contact is None or contact.email is None or not unproven(contact):
            return
        browser = [f"anon:{activity.anonymous_id}"] if activity.anonymous_id else []
        self._adopt(contact, browser, activity)

    def _browser_owner(self, activity: Activity) -> str | None:
        if not activity.anonymous_id:
            return None
        return self.contacts.contact_for_actor(f"anon:{activity.anonymous_id}")

    def _known_by_user_id(self, activity: Activity, fields: dict[str, Any]) -> Contact | None:
        """An identify with a userId and no email: a contact known by the user id alone."""
        assert activity.user_id is not None
        trusted = may_change_known(activity.trust)
        contact, created = contact_for_user(self.contacts, activity.user_id, activity.trust)
        if not created:  # another invocation made it first: an identify of a known contact
            return self.identify(activity)
        joined = [activity.actor]
        anonymous = f"anon:{activity.anonymous_id}" if activity.anonymous_id else None
        if anonymous and (trusted or self.contacts.contact_for_actor(anonymous) is None):
            self._take([anonymous], contact.contact_id, trusted)
            joined.append(anonymous)
        at = self._update_profile(contact.contact_id, activity, fields, [], joined, created=True)
        self._account_of_visitor(contact.contact_id, joined)
        record_activity(
            self.activities,
            contact.contact_id,
            "contact.identified",
            activity.message_id,
            {"created": True, "joined_actors": len(joined), "actors": joined, "by": activity.kind},
            at,
        )
        return self.contacts.get(contact.contact_id)

    def _account_of_visitor(self, contact_id: str, joined: list[str]) -> None:
        """A visitor who sent `group` before they were known: once their history joins a
        contact (which took whatever proof joining needs), a contact with no account yet is
        linked to the account of the visitor's latest `group` call."""
        visitors = [a for a in joined if a.startswith(("anon:", "user:"))]
        contact = self.contacts.get(contact_id) if visitors else None
        if contact is None or contact.account_id:
            return
        groups = [
            a
            for a in self.activities.list_for(visitors, VISITOR_HISTORY)
            if a.kind == "group" and a.properties.get("group_id")
        ]
        if not groups:
            return
        latest = max(groups, key=lambda a: (a.occurred_at, a.received_at))
        account_id = str(latest.properties["group_id"])

        def link(current: Contact) -> dict[str, Any] | None:
            if current.account_id:
                return None
            current.account_id = account_id
            current.updated_at = clock.iso(clock.now())
            return {"account_id": account_id}

        # the key join_account links with: that group call links a contact once
        self.contacts.apply_once(contact_id, f"group#{latest.message_id}", link)

    def _take(self, actors: list[str], contact_id: str, trusted: bool) -> None:
        """Link the actor keys to the contact. Only a trusted sender gets here with keys
        another contact holds: they move, and come off that contact's list."""
        owners = {a: self.contacts.contact_for_actor(a) for a in actors} if trusted else {}
        self.contacts.link_actors(actors, contact_id)
        for owner in {o for o in owners.values() if o not in (None, contact_id)}:
            assert owner is not None
            moved = [a for a, o in owners.items() if o == owner]
            release_actors(self.contacts, owner, moved, contact_id)

    def _alias(self, activity: Activity) -> Contact | None:
        """`previousId` and `userId` are one person. Only a trusted sender may join them to
        a contact that already exists; a public key may make a new one of both."""
        outcome = apply_alias(self.contacts, activity, may_change_known(activity.trust))
        record_over_budget(
            self._record, outcome.contact.contact_id, activity.message_id, outcome.dropped
        )
        if outcome.joined:
            self._account_of_visitor(outcome.contact.contact_id, outcome.joined)
        if outcome.joined or outcome.refused:
            record_activity(
                self.activities,
                outcome.contact.contact_id,
                "contact.identified",
                activity.message_id,
                {
                    "created": outcome.created,
                    "joined_actors": len(outcome.joined),
                    "actors": outcome.joined,
                    "refused_actors": outcome.refused,
                },
            )
        return self.contacts.get(outcome.contact.contact_id) if outcome.joined else outcome.contact

    def _claims(self) -> IdentityClaims:
        return IdentityClaims(self.contacts, self._record, self.on_pending_consent)

    @property
    def _record(self) -> Record:
        """`record_activity` on this activity store."""
        return functools.partial(record_activity, self.activities)

    def _update_profile(
        self,
        contact_id: str,
        activity: Activity,
        fields: dict[str, Any],
        consents: list[dict[str, Any]],
        new_actors: list[str],
        created: bool,
    ) -> str | None:
        """Apply an activity's fields, consents and new actor keys to the profile (once per
        activity), record what changed; the time the change was made (its note's `at`:
        what else this activity records is dated by it), None if nothing changed."""

        def change(contact: Contact) -> dict[str, Any] | None:
            changes = apply_fields(contact, fields)
            for consent in consents:
                # a form asks "pending" when it has double opt-in; otherwise consent is granted
                record = Consent.model_validate(
                    {"status": "granted", "at": activity.occurred_at, **consent}
                )
                current = contact.consent.get(record.key)
                if record.status == "pending" and current and current.status == "granted":
                    continue  # already confirmed: signing up again does not undo it
                contact.consent[record.key] = record
            added, _ = admit(contact.actors, [a for a in new_actors if a not in contact.actors])
            contact.actors.extend(added)
            # fields over the budget are named in the note, so a retry records them too
            dropped = {"dropped": changes.dropped} if changes.dropped else {}
            if not (changes or consents or added):
                return {"fields": [], "stage": None, **dropped} if dropped else None
            contact.updated_at = clock.iso(clock.now())
            return {"fields": changes.replaced, "stage": changes.stage, **dropped}

        _, note = self.contacts.apply_once(
            contact_id, f"profile#{activity.message_id}", lambda c: noted(change(c))
        )
        if note and not created:
            record_changes(self.activities, contact_id, activity.message_id, note, {})
        if note and note.get("dropped"):
            record_dropped(self.activities, contact_id, activity.message_id, note["dropped"])
        return note.get("at") if note else None


_TRAIT_ALIASES = {"firstName": "first_name", "lastName": "last_name", "title": "job_title"}
_STAGE_TRAITS = ("stage", "lifecycle_stage")


@dataclass
class FieldChanges:
    """What `apply_fields` did: fields given a value, those of them that replaced another
    value (only these are "changes": a first postal address is not a move), a stage change."""

    set: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    stage: dict[str, str] | None = None
    # fields not stored, over the contact's budget (nurture.runtime.field_budget): name -> why
    dropped: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.set or self.stage)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def apply_fields(contact: Contact, fields: dict[str, Any]) -> FieldChanges:
    """Set profile and custom fields (and the lifecycle stage, from a `stage` trait)."""
    changes = FieldChanges()
    budget = FieldBudget(contact)
    for name, value in fields.items():
        name = _TRAIT_ALIASES.get(name, name)
        if name in _STAGE_TRAITS:
            if value in STAGES and value != contact.stage:
                changes.stage = {"from": contact.stage, "to": str(value)}
                contact.stage = value
            continue
        if name == "email":
            continue  # the email is the identity: changed only through identity merge
        if name.startswith("fields."):
            name = name.removeprefix("fields.")
        elif name in PROFILE_FIELDS:
            value = None if value is None else str(value)
        if not (isinstance(value, (str, int, float, bool)) or value is None):
            continue
        profile = name in PROFILE_FIELDS
        old = getattr(contact, name) if profile else contact.fields.get(name)
        if old == value and (profile or name in contact.fields):
            continue
        refusal = budget.refusal(name, value, profile)
        if refusal:
            changes.dropped[name] = refusal
            continue
        budget.taken(name, old, value, was_new=not profile and name not in contact.fields)
        if profile:
            setattr(contact, name, value)
        else:
            contact.fields[name] = value
        changes.set.append(name)
        if not _empty(old):
            changes.replaced.append(name)
    return changes


def _identity_claims(
    activity: Activity,
) -> tuple[str | None, dict[str, Any], list[dict[str, Any]]]:
    if activity.kind == "identify":
        fields = {k: v for k, v in activity.traits.items() if k != "email"}
        consents: list[dict[str, Any]] = []
    elif activity.kind == "form":
        fields = dict(activity.properties.get("fields", {}))
        fields.pop("email", None)
        consents = list(activity.properties.get("consent", []))
    else:
        return None, {}, []
    if given_email(activity) is None:
        return None, fields, []
    email = claimed_email(activity)
    return (email, fields, consents) if email else (None, {}, [])


def _actors_of(activity: Activity, email: str) -> list[str]:
    actors = [activity.actor, f"email:{email}"]
    if activity.anonymous_id:
        actors.append(f"anon:{activity.anonymous_id}")
    if activity.user_id:
        actors.append(f"user:{activity.user_id}")
    return list(dict.fromkeys(actors))
