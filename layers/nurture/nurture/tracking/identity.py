"""Who a tracking call is about, beyond an email address: contacts known by a `userId`
alone, `alias` (two ids, one person) and `group` (the person's company account).

The react function calls these where it resolves identity; they decide nothing about how
far the sender is trusted (that is the caller's to check before joining or changing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nurture import clock
from nurture.accounts import Account, apply_traits
from nurture.contacts import PROFILE_FIELDS, Contact, looks_like_email, normalise_email
from nurture.ids import new_contact_id, stable_id
from nurture.ports import ContactStore
from nurture.tracking.actor_budget import admit
from nurture.tracking.events import Activity
from nurture.tracking.trust import may_change_known


def given_email(activity: Activity) -> Any:
    """The email an identify's traits or a form's fields carry, as sent (None when none)."""
    if activity.kind == "identify":
        return activity.traits.get("email")
    if activity.kind == "form":
        fields = activity.properties.get("fields")
        return fields.get("email") if isinstance(fields, dict) else None
    return None


def claimed_email(activity: Activity) -> str | None:
    """The address an identify or a form claims, normalised as identity keys it; None when
    it gives none, or nothing that looks like an address."""
    email = given_email(activity)
    if not isinstance(email, str) or not looks_like_email(email):
        return None
    return normalise_email(email)


def unproven(contact: Contact | None) -> bool:
    """A contact a public key made (a form, an identify or alias) that no trusted call has
    adopted yet. Anyone can send any email or userId, so nothing in it is proven: not that
    the browser joined to it is the person's, nor its fields. A trusted call that names its
    userId does not adopt it (the user id moves: `contact_for_user`); one that names its
    email, or a signed click on a link emailed to it, adopts it and keeps only what the call
    names or proves (`adopt`). README, "Who may change a contact"."""
    return contact is not None and contact.created_trust == "public" and contact.adopted_by is None


# What leaves an adopted contact with the actors it releases: what the public key set.
PUBLIC_PART = (*(f for f in PROFILE_FIELDS if f != "email"), "fields", "stage", "account_id")
RELEASED = "contact.actors_released"


@dataclass
class Adoption:
    contact: Contact  # the adopted contact, as it now is
    released: list[str] = field(default_factory=list)  # actor keys that left it
    orphan: Contact | None = None  # the contact that holds them now


def adopt(contacts: ContactStore, squatted: Contact, named: list[str], trust: str) -> Adoption:
    """A trusted call names the email of `squatted`, an unproven contact a public key made
    with it (or a signed click proves its mailbox). The contact keeps its email, consents
    and the runs its address started, and of its actors only the email and those `named`
    (the call's own ids, the browser a click proved); the others move to an orphan contact
    with no email, taking what the public key set: profile and custom fields, stage,
    account. The score is dropped here (the react function counts the kept history again;
    the orphan counts its own). Decided once per contact: whoever comes second, or a replay,
    gets the first decision back."""
    assert squatted.email is not None
    keep = {f"email:{squatted.email}", *named}
    now = clock.iso(clock.now())

    def change(contact: Contact) -> dict[str, object] | None:
        if not unproven(contact):
            return None
        contact.adopted_by = trust
        contact.updated_at = now
        released = [a for a in contact.actors if a not in keep]
        if not released:
            return {"released": []}
        public = contact.model_dump(mode="json", include=set(PUBLIC_PART))
        contact.actors = [a for a in contact.actors if a in keep]
        blank = Contact(contact_id=contact.contact_id, created_at=now, updated_at=now)
        for name in PUBLIC_PART:
            setattr(contact, name, getattr(blank, name))
        contact.score, contact.grade, contact.scoring = 0, None, {}
        return {"released": released, "public": public}

    _, note = contacts.apply_once(squatted.contact_id, "adopt", change)
    adopted = contacts.get(squatted.contact_id)
    assert adopted is not None
    released = [str(a) for a in (note or {}).get("released") or []]
    if not released:
        return Adoption(adopted)
    assert note is not None
    public: dict[str, object] = dict(note["public"])
    fresh = Contact.model_validate(
        {
            **public,
            "contact_id": new_contact_id(),
            "created_at": now,
            "updated_at": now,
            "actors": released,
            "created_by": squatted.created_by,
            "created_trust": "public",
        }
    )
    # one orphan per adopted contact: a retry or a concurrent adopter finds it
    orphan = contacts.create_for_actor(fresh, f"released:{squatted.contact_id}")
    for actor in released:
        if contacts.contact_for_actor(actor) == squatted.contact_id:
            contacts.link_actor(actor, orphan.contact_id)
    return Adoption(adopted, released, orphan)


def contact_for_user(
    contacts: ContactStore, user_id: str, trust: str = "public"
) -> tuple[Contact, bool]:
    """The contact known by `user:<user_id>`, created (with no email yet) if there is none.
    A trusted sender naming a user id that an unproven contact holds gets a new contact for
    it instead (`prove_user`). Returns (contact, created)."""
    actor = f"user:{user_id}"
    known = contacts.contact_for_actor(actor)
    existing = contacts.get(known) if known else None
    if existing is not None:
        if may_change_known(trust) and unproven(existing):
            return prove_user(contacts, actor, existing, trust)
        return existing, False
    now = clock.iso(clock.now())
    fresh = Contact(
        contact_id=new_contact_id(),
        created_at=now,
        updated_at=now,
        actors=[actor],
        created_trust=trust,
    )
    contact = contacts.create_for_actor(fresh, actor)
    return contact, contact.contact_id == fresh.contact_id


def prove_user(
    contacts: ContactStore, actor: str, squatted: Contact, trust: str
) -> tuple[Contact, bool]:
    """A trusted sender names the user id `actor` that the unproven contact `squatted`
    holds. The user id moves to a new contact of the sender's; `squatted` keeps what the
    public key gave it (its browser, fields, score and runs), so none of that reaches the
    real user. The new contact is made once per (user id, squatted contact): a replay finds
    it. Returns (contact, created)."""
    now = clock.iso(clock.now())
    fresh = Contact(
        contact_id=new_contact_id(),
        created_at=now,
        updated_at=now,
        actors=[actor],
        created_trust=trust,
    )
    lock = f"proven:{stable_id(actor, squatted.contact_id)}"
    contact = contacts.create_for_actor(fresh, lock)
    contacts.link_actor(actor, contact.contact_id)
    release_actors(contacts, squatted.contact_id, [actor], contact.contact_id)
    return contact, contact.contact_id == fresh.contact_id


def release_actors(contacts: ContactStore, contact_id: str, actors: list[str], to: str) -> None:
    """Take actor keys that now belong to contact `to` off `contact_id`'s list."""
    if not actors:
        return

    def release(contact: Contact) -> dict[str, object] | None:
        gone = [a for a in actors if a in contact.actors]
        if not gone:
            return None
        contact.actors = [a for a in contact.actors if a not in gone]
        contact.updated_at = clock.iso(clock.now())
        return {"released": gone}

    contacts.apply_once(contact_id, f"release#{to}#{stable_id(*sorted(actors))}", release)


@dataclass
class AliasOutcome:
    contact: Contact
    created: bool
    joined: list[str] = field(default_factory=list)  # actor keys now part of the contact
    refused: list[str] = field(default_factory=list)  # actor keys another contact owns
    dropped: dict[str, str] = field(default_factory=dict)  # over the actor budget: why


def alias_actors(previous_id: str) -> list[str]:
    """`previousId` is an anonymous id or an earlier user id: both keys are the person's."""
    return [f"anon:{previous_id}", f"user:{previous_id}"]


def apply_alias(
    contacts: ContactStore, activity: Activity, may_join_existing: bool = True
) -> AliasOutcome:
    """Make `previousId` and `userId` one person: the contact of either (the user id's
    first), or a new one known by the user id, gets the other's actor keys. Keys that
    already belong to a different contact are left there (two known contacts are never
    merged by a tracking call) and reported as refused; so are all of them when the contact
    exists already and `may_join_existing` is False. A trusted alias does not adopt an
    `unproven` contact: the user id gets a contact of its own."""
    assert activity.user_id is not None
    previous = str(activity.properties.get("previous_id") or "")
    user_actor = f"user:{activity.user_id}"
    owner_id = contacts.contact_for_actor(user_actor)
    previous_owner = next(
        (o for a in alias_actors(previous) if (o := contacts.contact_for_actor(a))), None
    )
    created = False
    if owner_id is None and previous_owner is not None:
        owner_id = previous_owner
    if owner_id is not None and may_join_existing and unproven(contacts.get(owner_id)):
        # a trusted alias never adopts what a public key made from a user id alone
        contact, created = contact_for_user(contacts, activity.user_id, activity.trust)
        owner_id = contact.contact_id
    if owner_id is not None and not may_join_existing:
        existing = contacts.get(owner_id)
        assert existing is not None
        candidates = [user_actor, *alias_actors(previous)]
        held = [a for a in candidates if contacts.contact_for_actor(a) != owner_id]
        return AliasOutcome(existing, False, [], held)
    if owner_id is None:
        contact, created = contact_for_user(contacts, activity.user_id, activity.trust)
        owner_id = contact.contact_id
    joined: list[str] = []
    refused: list[str] = []
    owner = contacts.get(owner_id)
    held = owner.actors if owner is not None else []
    for actor in [user_actor, *alias_actors(previous)]:
        current = contacts.contact_for_actor(actor)
        if current == owner_id:
            continue
        if current is not None:
            refused.append(actor)
            continue
        joined.append(actor)
    joined, dropped = admit(held, joined)  # the contact's actor budget
    for actor in joined:
        contacts.link_actor(actor, owner_id)

    def add_actors(contact: Contact) -> dict[str, object] | None:
        added, _ = admit(contact.actors, [a for a in joined if a not in contact.actors])
        if not added:
            return None
        contact.actors.extend(added)
        contact.updated_at = clock.iso(clock.now())
        return {"actors": added}

    contacts.apply_once(owner_id, f"alias#{activity.message_id}", add_actors)
    found = contacts.get(owner_id)
    assert found is not None
    return AliasOutcome(found, created, joined, refused, dropped)


def join_account(
    contacts: ContactStore, activity: Activity, contact: Contact | None, trusted: bool = True
) -> tuple[Account, Contact | None]:
    """A `group` call: create or update the account from its traits, and link the contact
    (when the sender is known) to it. Returns the account and the contact as it now is.
    An untrusted sender (a public key) only fills in what is empty: it never replaces an
    account's values, nor links a known contact to an account (README, "Who may change a
    contact")."""
    account_id = str(activity.properties["group_id"])
    account = contacts.update_account(
        account_id, lambda a: bool(apply_traits(a, activity.traits, overwrite=trusted))
    )
    if contact is None or contact.account_id == account_id:
        return account, contact
    if not trusted:
        return account, contact

    def link(c: Contact) -> dict[str, object] | None:
        if c.account_id == account_id:
            return None
        c.account_id = account_id
        c.updated_at = clock.iso(clock.now())
        return {"account_id": account_id}

    contacts.apply_once(contact.contact_id, f"group#{activity.message_id}", link)
    return account, contacts.get(contact.contact_id)
