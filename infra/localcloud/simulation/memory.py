"""The domain ports in memory, for the fast simulation engine (no moto, no threads).

Each behaves as its DynamoDB / SES / SNS adapter does where the step code can tell:
contacts come back as fresh copies (the adapter parses the stored JSON on every read),
activities are stored once per message id and read newest first across a contact's actor
keys, conditional writes (entry claims, the send ledger, change guards) keep their
conditions. Every new activity is handed to `on_activity` (the table's stream: the react
function sees every INSERT).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from nurture.accounts import Account
from nurture.contacts import Contact
from nurture.delivery.caps import evaluate
from nurture.delivery.ports import CapDecision, LedgerEntry, OutgoingSms, SuppressionRecord
from nurture.ports import Enrolment, OutgoingEmail, ProgramRecord, Task, WaitRegistration
from nurture.tracking.events import Activity


class MemoryContacts:
    """ContactStore: profiles kept as JSON (a read parses, as the DynamoDB adapter does)."""

    def __init__(self) -> None:
        self.docs: dict[str, str] = {}
        self.actors: dict[str, str] = {}
        self.changes: dict[str, dict[str, Any] | None] = {}  # CHANGE#<key> guards
        self.accounts: dict[str, str] = {}

    def get(self, contact_id: str) -> Contact | None:
        doc = self.docs.get(contact_id)
        return Contact.model_validate_json(doc) if doc is not None else None

    def contact_for_actor(self, actor: str) -> str | None:
        return self.actors.get(actor)

    def create_if_absent(self, contact: Contact, email: str) -> Contact:
        return self.create_for_actor(contact, f"email:{email}")

    def create_for_actor(self, contact: Contact, actor: str) -> Contact:
        owner = self.actors.get(actor)
        if owner is not None:
            existing = self.get(owner)
            if existing is not None:
                return existing
        self.actors[actor] = contact.contact_id
        self.save(contact)
        return contact

    def link_actor(self, actor: str, contact_id: str) -> None:
        self.actors[actor] = contact_id

    def link_actors(self, actors: list[str], contact_id: str) -> None:
        for actor in actors:
            self.link_actor(actor, contact_id)

    def save(self, contact: Contact) -> None:
        self.docs[contact.contact_id] = contact.model_dump_json()

    def apply_once(
        self, contact_id: str, key: str, change: Callable[[Contact], dict[str, Any] | None]
    ) -> tuple[bool, dict[str, Any] | None]:
        guard = f"{contact_id}#{key}"
        contact = self.get(contact_id)
        if contact is None:
            raise KeyError(contact_id)
        if guard in self.changes:
            return False, self.changes[guard]
        note = change(contact)
        self.changes[guard] = json.loads(json.dumps(note))
        if note is not None:
            self.save(contact)
        return True, note

    def scan(self) -> Iterator[Contact]:
        for doc in list(self.docs.values()):
            yield Contact.model_validate_json(doc)

    def get_account(self, account_id: str) -> Account | None:
        doc = self.accounts.get(account_id)
        return Account.model_validate_json(doc) if doc is not None else None

    def update_account(self, account_id: str, change: Callable[[Account], bool]) -> Account:
        from nurture import clock

        account = self.get_account(account_id)
        if account is None:
            now = clock.iso(clock.now())
            account = Account(account_id=account_id, created_at=now, updated_at=now)
        if change(account):
            self.accounts[account_id] = account.model_dump_json()
        return account


class MemoryActivities:
    """ActivityStore, indexed by actor key; `on_activity` sees each new one (the stream)."""

    def __init__(self, on_activity: Callable[[Activity], None] | None = None) -> None:
        self.ids: set[str] = set()
        self.by_actor: dict[str, list[Activity]] = {}
        self.on_activity = on_activity

    def put_new(self, activity: Activity) -> bool:
        if activity.message_id in self.ids:
            return False
        self.ids.add(activity.message_id)
        self.by_actor.setdefault(activity.actor, []).append(activity)
        if self.on_activity is not None:
            self.on_activity(activity)
        return True

    def put_many_new(self, activities: list[Activity]) -> list[bool]:
        return [self.put_new(a) for a in activities]

    def put_once(self, activity: Activity) -> bool:
        return self.put_new(activity)  # every copy has one key: once per message id as well

    def list_for(self, actors: list[str], limit: int = 200) -> list[Activity]:
        found: list[Activity] = []
        for actor in dict.fromkeys(actors):
            found.extend(self.by_actor.get(actor, ()))
        found.sort(key=lambda a: a.sort_key, reverse=True)
        return found[:limit]


@dataclass
class MemoryState:
    """StateStore: programs, enrolments (with their conditions), waits, once-marks, tasks."""

    programs: dict[str, ProgramRecord] = field(default_factory=dict)
    triggers: dict[str, list[str]] = field(default_factory=dict)
    enrolments: dict[str, dict[str, Enrolment]] = field(default_factory=dict)
    waits: dict[tuple[str, str], dict[str, WaitRegistration]] = field(default_factory=dict)
    marks: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    sends: dict[str, str] = field(default_factory=dict)

    def register_program(self, record: ProgramRecord) -> None:
        old = self.programs.get(record.program_id)
        for key in old.triggers if old else []:
            self.triggers[key] = [p for p in self.triggers.get(key, []) if p != record.program_id]
        self.programs[record.program_id] = record
        for key in record.triggers:
            self.triggers.setdefault(key, []).append(record.program_id)

    def get_program(self, program_id: str, consistent: bool = True) -> ProgramRecord | None:
        return self.programs.get(program_id)

    def programs_for_trigger(self, trigger_key: str) -> list[str]:
        return list(self.triggers.get(trigger_key, []))

    def get_enrolment(self, contact_id: str, program_id: str) -> Enrolment | None:
        return self.enrolments.get(contact_id, {}).get(program_id)

    def enrolments_of(self, contact_id: str) -> list[Enrolment]:
        return list(self.enrolments.get(contact_id, {}).values())

    def claim_entry(self, entry: Enrolment, replaces: str | None) -> bool:
        mine = self.enrolments.setdefault(entry.contact_id, {})
        current = mine.get(entry.program_id)
        if (replaces is None and current is not None) or (
            replaces is not None and (current is None or current.execution != replaces)
        ):
            return False
        mine[entry.program_id] = entry
        return True

    def set_entry_status(
        self,
        contact_id: str,
        program_id: str,
        execution: str,
        status: str,
        execution_arn: str | None = None,
    ) -> None:
        mine = self.enrolments.get(contact_id, {})
        current = mine.get(program_id)
        if current is None or current.execution != execution:
            return  # a later entry replaced it
        changed = replace(current, status=status)
        if execution_arn is not None:
            changed = replace(changed, execution_arn=execution_arn)
        mine[program_id] = changed

    def mark_once(self, key: str, expires_at: int | None = None) -> bool:
        if key in self.marks:
            return False
        self.marks.add(key)
        return True

    def count_attempt(self, key: str, expires_at: int) -> int:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        return self.attempts[key]

    def add_task(self, task: Task) -> bool:
        if task.task_id in self.tasks:
            return False
        self.tasks[task.task_id] = task
        return True

    def tasks_for(self, assignee: str) -> list[Task]:
        mine = [t for t in self.tasks.values() if t.assignee == assignee]
        return sorted(mine, key=lambda t: (t.due, t.task_id))

    def register_wait(self, wait: WaitRegistration) -> None:
        key = (wait.contact_id, wait.event_key)
        self.waits.setdefault(key, {})[f"{wait.execution}#{wait.step_id}"] = wait

    def waits_for(self, contact_id: str, event_key: str) -> list[WaitRegistration]:
        found = self.waits.get((contact_id, event_key), {})
        return [found[k] for k in sorted(found)]  # a query returns them by sort key

    def remove_wait(self, wait: WaitRegistration) -> None:
        self.waits.get((wait.contact_id, wait.event_key), {}).pop(
            f"{wait.execution}#{wait.step_id}", None
        )

    def claim_send(self, send_key: str) -> str | None:
        if send_key in self.sends:
            return self.sends[send_key] or "in-progress"
        self.sends[send_key] = ""
        return None

    def record_send(self, send_key: str, message_id: str) -> None:
        self.sends[send_key] = message_id


@dataclass
class MemoryDelivery:
    """DeliveryStore: the send ledger, suppressions, frequency caps and step counters."""

    contacts: MemoryContacts
    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    suppressed: dict[tuple[str, str], SuppressionRecord] = field(default_factory=dict)
    bounces: dict[str, dict[str, int]] = field(default_factory=dict)
    caps: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    counters: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    counted: set[str] = field(default_factory=set)
    phones: dict[str, set[str]] = field(default_factory=dict)
    cap_hits: int = 0  # reserve_cap answers "not allowed" (for the summary)

    def ledger_get(self, send_id: str) -> LedgerEntry | None:
        return self.ledger.get(send_id)

    def ledger_note_deferred(self, send_id: str, now: int) -> None:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        self.ledger[send_id] = replace(entry, first_deferred_at=entry.first_deferred_at or now)

    def ledger_claim(self, send_id: str, now: int, take_over_from: int | None = None) -> bool:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        if take_over_from is None and entry.status is not None:
            return False
        if take_over_from is not None and (
            entry.status != "claimed" or entry.claimed_at != take_over_from
        ):
            return False
        self.ledger[send_id] = replace(entry, status="claimed", claimed_at=now)
        return True

    def ledger_sent(self, send_id: str, message_id: str) -> None:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        self.ledger[send_id] = replace(entry, status="sent", message_id=message_id)

    def ledger_failed(self, send_id: str, reason: str) -> None:
        entry = self.ledger.get(send_id, LedgerEntry(status=None))
        self.ledger[send_id] = replace(entry, status="failed", reason=reason[:500])

    def ledger_release(self, send_id: str) -> None:
        entry = self.ledger.get(send_id)
        if entry is not None and entry.status == "claimed":
            self.ledger[send_id] = replace(entry, status=None, claimed_at=0)

    def ledger_confirm(self, send_id: str, message_id: str) -> None:
        entry = self.ledger.get(send_id)
        if entry is not None and entry.status == "claimed":
            self.ledger[send_id] = replace(entry, status="sent", message_id=message_id)

    def suppression_for(self, channel: str, address: str) -> SuppressionRecord | None:
        return self.suppressed.get((channel, address))

    def suppress(self, address: str, record: SuppressionRecord) -> bool:
        if (record.channel, address) in self.suppressed:
            return False  # the first reason stays on record
        self.suppressed[(record.channel, address)] = record
        return True

    def unsuppress(self, channel: str, address: str, only_reason: str) -> bool:
        found = self.suppressed.get((channel, address))
        if found is None or found.reason != only_reason:
            return False
        del self.suppressed[(channel, address)]
        return True

    def soft_bounces(self, address: str, event_id: str, at: int, window_seconds: int) -> int:
        mine = self.bounces.setdefault(address, {})
        mine[f"{at:012d}#{event_id}"] = at
        return sum(1 for when in mine.values() if when >= at - window_seconds)

    def reserve_cap(
        self, contact_id: str, channel: str, send_id: str, now: int, window_seconds: int, limit: int
    ) -> CapDecision:
        key = (contact_id, channel)
        decision = evaluate(self.caps.get(key, []), now, send_id, limit, window_seconds)
        if decision.allowed:
            self.caps[key] = decision.counted
        else:
            self.cap_hits += 1
        return decision

    def release_cap(self, contact_id: str, channel: str, send_id: str) -> None:
        key = (contact_id, channel)
        self.caps[key] = [s for s in self.caps.get(key, []) if s[1] != send_id]

    def count(
        self, program_id: str, step_id: str, counters: dict[str, int], once_key: str | None
    ) -> bool:
        if once_key is not None:
            if once_key in self.counted:
                return False
            self.counted.add(once_key)
        mine = self.counters.setdefault((program_id, step_id), {})
        for name, value in counters.items():
            mine[name] = mine.get(name, 0) + value
        return True

    def update_contact(self, contact_id: str, change: Callable[[Contact], bool]) -> Contact | None:
        from nurture import clock

        contact = self.contacts.get(contact_id)
        if contact is None:
            return None
        if not change(contact):
            return contact
        contact.updated_at = clock.iso(clock.now())
        self.contacts.save(contact)
        return contact

    def remember_phone(self, phone: str, contact_id: str) -> None:
        self.phones.setdefault(phone, set()).add(contact_id)

    def contacts_for_phone(self, phone: str) -> list[str]:
        return sorted(self.phones.get(phone, set()))


class MemoryBlobs:
    """BlobStore over a dict of texts (forms, templates and programs of the repository)."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self.texts = dict(texts or {})

    def get_text(self, key: str) -> str | None:
        return self.texts.get(key)

    def put_text(self, key: str, text: str, content_type: str = "text/plain") -> None:
        self.texts[key] = text


@dataclass
class Outbox:
    """Mailer and Texter: what would be sent, with an SES-like message id; `on_email` is
    called for each (the engine turns it into SES's Send and Delivery events)."""

    emails: list[tuple[str, OutgoingEmail]] = field(default_factory=list)
    sms: list[tuple[str, OutgoingSms]] = field(default_factory=list)
    on_email: Callable[[str, OutgoingEmail], None] | None = None

    def send(self, email: OutgoingEmail) -> str:
        message_id = f"sim-{len(self.emails) + 1:08d}"
        self.emails.append((message_id, email))
        if self.on_email is not None:
            self.on_email(message_id, email)
        return message_id


@dataclass
class Texts:
    outbox: Outbox

    def send(self, sms: OutgoingSms) -> str:
        message_id = f"sim-sms-{len(self.outbox.sms) + 1:08d}"
        self.outbox.sms.append((message_id, sms))
        return message_id
