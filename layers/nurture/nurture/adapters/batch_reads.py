"""What one stream batch of the react function reads: shared by its records, dropped after.

Every activity stored before a batch was read is seen by a read made during the batch (the
reads are as consistent as before); what the batch's own records write goes through these
adapters and keeps the cache true. So records of one batch can share reads.

`BatchContacts` is `DynamoContacts` plus a cache that lives for one invocation
(`prefetch` ... `forget`). At the start of a stream batch, the actor keys and contact ids of
all its records are read in bulk (BatchGetItem, 100 keys a call: the actor items eventually
consistent, as `contact_for_actor` reads them, then the profiles strongly consistent, as
`get` reads them), so a record costs no GetItem for who it is about, and records of the same
contact share one read.

What this invocation writes through it updates the cache as it is written (a link, a new
contact, a saved or changed profile), so a later record of the same batch sees it; a change
that did not happen here (`apply_once` found it applied before) or that failed drops the
entry, to be read again. A profile is kept with the version it was stored with, so
`apply_once` makes a change on the kept copy without reading it again: written on condition
that the stored version is still that one, as after a read (a copy that is behind fails it
and the change is made again on a fresh read; "nothing to save" is decided on a fresh
read). The cache holds JSON documents, never objects a caller might edit.
Writes by other functions during the batch are seen from the next batch on, as with any read
that raced them. Outside an invocation (no `prefetch`), it reads and writes as DynamoContacts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nurture.adapters.activities import DynamoActivities
from nurture.adapters.bulk import Backoff, get_all
from nurture.adapters.dynamodb import DynamoContacts, DynamoState, _s, _version
from nurture.contacts import Contact
from nurture.ports import Enrolment, WaitRegistration
from nurture.tracking.events import Activity
from nurture.tracking.identity import claimed_email

_ABSENT = ""  # the cache's value for "no such item" (contact ids and docs are never empty)


class BatchContacts(DynamoContacts):
    def __init__(self, client: Any, table: str):
        super().__init__(client, table)
        self._owners: dict[str, str] | None = None  # actor -> contact id (or _ABSENT)
        self._docs: dict[str, str] = {}  # contact id -> profile JSON (or _ABSENT)
        self._versions: dict[str, str] = {}  # contact id -> the version stored with that JSON

    # --- the invocation ------------------------------------------------------------------
    def prefetch(self, actors: Iterable[str], contact_ids: Iterable[str]) -> None:
        """Start an invocation's cache: who each actor is, and those contacts' profiles."""
        self._owners, self._docs, self._versions = {}, {}, {}
        wanted = list(dict.fromkeys(a for a in actors if a))
        backoff = Backoff()
        if wanted:
            keys = [{"pk": _s(f"ACTOR#{a}"), "sk": _s("CONTACT")} for a in wanted]
            items = get_all(self._db, self._table, keys, backoff, consistent=False)
            found = {i["pk"]["S"].removeprefix("ACTOR#"): i["contact_id"]["S"] for i in items}
            self._owners = {a: found.get(a, _ABSENT) for a in wanted}
        ids = list(dict.fromkeys([*contact_ids, *(c for c in self._owners.values() if c)]))
        if ids:
            keys = [{"pk": _s(f"CONTACT#{c}"), "sk": _s("PROFILE")} for c in ids]
            items = get_all(self._db, self._table, keys, backoff, consistent=True)
            docs = {i["pk"]["S"].removeprefix("CONTACT#"): i for i in items}
            self._docs = {c: docs[c]["doc"]["S"] if c in docs else _ABSENT for c in ids}
            self._versions = {c: _version(i) for c, i in docs.items()}

    def prefetch_for(self, activities: Iterable[Activity]) -> None:
        """`prefetch` what identifying these activities asks: the contact an activity names,
        else the contact of its actor, user id or browser (a click's browser too), and of the
        email address an identify or form gives."""
        actors: list[str] = []
        contact_ids: list[str] = []
        for activity in activities:
            if activity.contact_id:
                contact_ids.append(str(activity.contact_id))
            else:
                actors.append(activity.actor)
                if activity.user_id:
                    actors.append(f"user:{activity.user_id}")
                email = claimed_email(activity)
                if email:
                    actors.append(f"email:{email}")
            if activity.anonymous_id:
                actors.append(f"anon:{activity.anonymous_id}")
        self.prefetch(actors, contact_ids)

    def forget(self) -> None:
        """End of the invocation: nothing read in it is used again."""
        self._owners, self._docs, self._versions = None, {}, {}

    # --- reads -----------------------------------------------------------------------------
    def get(self, contact_id: str) -> Contact | None:
        if self._owners is None:
            return super().get(contact_id)
        doc = self._docs.get(contact_id)
        if doc is None:
            item = self._profile(contact_id)
            if item is None:
                return None
            doc = self._docs[contact_id] = item["doc"]["S"]
            self._versions[contact_id] = _version(item)
        return Contact.model_validate_json(doc) if doc else None

    def contact_for_actor(self, actor: str) -> str | None:
        if self._owners is None:
            return super().contact_for_actor(actor)
        owner = self._owners.get(actor)
        if owner is None:
            owner = self._owners[actor] = super().contact_for_actor(actor) or _ABSENT
        return owner or None

    # --- writes keep the cache true ------------------------------------------------------
    def link_actor(self, actor: str, contact_id: str) -> None:
        super().link_actor(actor, contact_id)
        if self._owners is not None:
            self._owners[actor] = contact_id

    def link_actors(self, actors: list[str], contact_id: str) -> None:
        super().link_actors(actors, contact_id)
        if self._owners is not None:
            self._owners.update(dict.fromkeys(actors, contact_id))

    def create_for_actor(self, contact: Contact, actor: str) -> Contact:
        # An email key the batch found taken is never written again: its contact is returned,
        # as DynamoContacts does when its create finds the key taken (an email key stays
        # with its contact; only an erasure removes it).
        owner = self._owners.get(actor) if self._owners is not None else None
        if owner and actor.startswith("email:"):
            found = self.get(owner)
            if found is not None:
                return found
        # when the key is taken, DynamoContacts reads its owner: read now, not from the cache
        self._drop(contact.contact_id, actor)
        try:
            found = super().create_for_actor(contact, actor)  # the profile kept by _stored
        except Exception:
            self._drop(contact.contact_id, actor)
            raise
        if self._owners is not None:
            self._owners[actor] = found.contact_id
        return found

    def apply_once(
        self, contact_id: str, key: str, change: Callable[[Contact], dict[str, Any] | None]
    ) -> tuple[bool, dict[str, Any] | None]:
        if self._owners is None:
            return super().apply_once(contact_id, key, change)
        try:  # the profile as it left it stored is kept by _stored
            applied, note = super().apply_once(contact_id, key, change)
        except Exception:
            self._drop(contact_id)
            raise
        if not applied:  # applied before: whatever is stored now is read again when asked for
            self._drop(contact_id)
        return applied, note

    # --- what DynamoContacts reads and writes (see its apply_once) -------------------------
    def _known(self, contact_id: str) -> tuple[str, str] | None:
        doc, version = self._docs.get(contact_id), self._versions.get(contact_id)
        return (doc, version) if doc and version is not None and self._owners is not None else None

    def _stored(self, contact_id: str, doc: str, version: str) -> None:
        if self._owners is not None:
            self._docs[contact_id], self._versions[contact_id] = doc, version

    def _drop(self, contact_id: str, actor: str | None = None) -> None:
        self._docs.pop(contact_id, None)
        self._versions.pop(contact_id, None)
        if actor is not None and self._owners is not None:
            self._owners.pop(actor, None)


class BatchState(DynamoState):
    """`DynamoState` whose `enrolments_of` (read for every record of a known contact, for
    goals) and `waits_for` (for every page view, tracked event, form or email event of one)
    are read once per contact (and event key) per invocation (`begin` ... `forget`). An
    enrolment or wait written through it drops that contact's entries (read again when asked
    for): a run entered or a wait ended by this batch is seen by its later records. Runs
    entered and waits registered elsewhere after an activity was stored are not that
    activity's to convert or resume; those from before it are in the read."""

    def __init__(self, client: Any, table: str):
        super().__init__(client, table)
        self._enrolments: dict[str, list[Enrolment]] | None = None
        self._waits: dict[tuple[str, str], list[WaitRegistration]] = {}

    def begin(self) -> None:
        self._enrolments, self._waits = {}, {}

    def forget(self) -> None:
        self._enrolments, self._waits = None, {}

    def waits_for(self, contact_id: str, event_key: str) -> list[WaitRegistration]:
        if self._enrolments is None:
            return super().waits_for(contact_id, event_key)
        found = self._waits.get((contact_id, event_key))
        if found is None:
            found = self._waits[contact_id, event_key] = super().waits_for(contact_id, event_key)
        return list(found)

    def register_wait(self, wait: WaitRegistration) -> None:
        self._waits.pop((wait.contact_id, wait.event_key), None)
        super().register_wait(wait)

    def remove_wait(self, wait: WaitRegistration) -> None:
        self._waits.pop((wait.contact_id, wait.event_key), None)
        super().remove_wait(wait)

    def enrolments_of(self, contact_id: str) -> list[Enrolment]:
        if self._enrolments is None:
            return super().enrolments_of(contact_id)
        found = self._enrolments.get(contact_id)
        if found is None:
            found = self._enrolments[contact_id] = super().enrolments_of(contact_id)
        return list(found)

    def claim_entry(self, entry: Enrolment, replaces: str | None) -> bool:
        self._drop(entry.contact_id)
        return super().claim_entry(entry, replaces)

    def set_entry_status(
        self,
        contact_id: str,
        program_id: str,
        execution: str,
        status: str,
        execution_arn: str | None = None,
    ) -> None:
        self._drop(contact_id)
        super().set_entry_status(contact_id, program_id, execution, status, execution_arn)

    def _drop(self, contact_id: str) -> None:
        if self._enrolments is not None:
            self._enrolments.pop(contact_id, None)


class BatchActivities(DynamoActivities):
    """`DynamoActivities` whose reads of an actor's history are shared by the records of one
    invocation (`begin` ... `forget`): identity, the due index, scoring and conditions each
    read a joining visitor's or a contact's history, often the same. A write through it
    drops that actor's history (the contact's own `contact:` key, for what Nurture records),
    read again when asked for. What ingest stores meanwhile comes through the stream itself."""

    def __init__(self, client: Any, table: str, state_table: str, **kwargs: Any):
        super().__init__(client, table, state_table, **kwargs)
        self._histories: dict[str, tuple[int, list[Activity]]] | None = None

    def begin(self) -> None:
        self._histories = {}

    def forget(self) -> None:
        self._histories = None

    def _newest(self, actor: str, limit: int) -> list[Activity]:
        if self._histories is None:
            return super()._newest(actor, limit)
        found = self._histories.get(actor)
        if found is None or found[0] < limit:
            found = self._histories[actor] = (limit, super()._newest(actor, limit))
        return list(found[1])

    def put_new(self, activity: Activity) -> bool:
        self._drop(activity.actor)
        return super().put_new(activity)

    def put_once(self, activity: Activity) -> bool:
        self._drop(activity.actor)
        return super().put_once(activity)

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        for activity in activities:
            self._drop(activity.actor)
        return super().put_many_new(activities)

    def _drop(self, actor: str) -> None:
        if self._histories is not None:
            self._histories.pop(actor, None)


@dataclass
class BatchReads:
    """The three stores of the react function, and the span of one stream batch's reads."""

    contacts: BatchContacts
    activities: BatchActivities
    state: BatchState

    @contextmanager
    def batch(self, activities: list[Activity]) -> Iterator[None]:
        self.state.begin()
        self.activities.begin()
        try:
            self.contacts.prefetch_for(activities)
            yield
        finally:  # nothing read in this invocation is used in the next
            self.contacts.forget()
            self.activities.forget()
            self.state.forget()
