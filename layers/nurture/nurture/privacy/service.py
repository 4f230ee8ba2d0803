"""Export and erase one person's data (GDPR articles 15, 17 and 20).

A person is found by email (normalised as everywhere) or contact id. What is held about them
is every item whose JSON mentions one of their identifiers: the contact id, each actor key
(`anon:`, `user:`, `email:`, `contact:`), the email and phone, and the hashed forms of the
addresses that delivery keys items by. A mention counts only as a whole token (`a@x.com`
does not match `ba@x.com`), so another person's items are never touched. The search reads
every table in full: an erase is rare, and this finds key shapes added later without a
list to keep up to date.

What stays after an erase: `ERASED#<channel>#<sha256>` (the send path's suppression lookup
checks it, so the address is never mailed again; nothing can be read back from it) and an
audit record holding that hash, the time and the counts."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from nurture import clock
from nurture.contacts import Contact, normalise_email
from nurture.ports import ContactStore, StateStore, Workflows
from nurture.privacy.hashes import erased_hash
from nurture.privacy.ports import Exports, PersonalItems, PersonalSchedules
from nurture.reporting.lake import LAKE_PREFIX, PROFILES_PREFIX, erase_from_lake
from nurture.reporting.ports import LakeStore
from nurture.runtime.records import contact_actors

EXPORT_PREFIX = "exports/"
# The cause an erase stops runs with: their end is not recorded (it would be about the person).
STOP_CAUSE = "nurture: personal data erased"
_BOUND = r"[\w.@+%'-]"


class PrivacyRequestError(ValueError):
    def __init__(self, field_name: str, reason: str):
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def _address_hash(channel: str, address: str) -> str:
    # the form delivery keys SUPPRESS#, SOFTBOUNCE# and PHONE# items by
    return hashlib.sha256(f"{channel}:{address.strip().lower()}".encode()).hexdigest()[:40]


@dataclass
class Subject:
    """The person a request is about, and every identifier their data is stored under."""

    email: str | None
    contact: Contact | None
    identifiers: set[str] = field(default_factory=set)

    @property
    def contact_id(self) -> str | None:
        return self.contact.contact_id if self.contact else None

    def matcher(self) -> Any:
        ids = sorted((i for i in self.identifiers if len(i) >= 3), key=len, reverse=True)
        if not ids:
            return lambda text: False
        pattern = re.compile(
            rf"(?<!{_BOUND})(?:{'|'.join(re.escape(i) for i in ids)})(?!{_BOUND})", re.I
        )
        return lambda text: bool(pattern.search(text))

    def folder(self) -> str:
        """Where this person's exports go: a hash, so the key shows nothing."""
        seed = self.contact_id or self.email or ""
        return EXPORT_PREFIX + hashlib.sha256(f"subject:{seed}".encode()).hexdigest()[:32] + "/"


def parse_request(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise PrivacyRequestError("body", "must be a JSON object with email or contact_id")
    email, contact_id = body.get("email"), body.get("contact_id")
    if email is None and contact_id is None:
        raise PrivacyRequestError("email", "email or contact_id is required")
    out: dict[str, str] = {}
    for name, value in (("email", email), ("contact_id", contact_id)):
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip() or len(value) > 320:
            raise PrivacyRequestError(name, "must be a non-empty string (at most 320 characters)")
        out[name] = value.strip()
    if "email" in out and "@" not in out["email"]:
        raise PrivacyRequestError("email", "is not an email address")
    return out


def find_subject(contacts: ContactStore, request: dict[str, str]) -> Subject:
    email = normalise_email(request["email"]) if "email" in request else None
    contact_id = request.get("contact_id")
    if contact_id is None and email is not None:
        contact_id = contacts.contact_for_actor(f"email:{email}")
    contact = contacts.get(contact_id) if contact_id else None
    subject = Subject(email=email or (contact.email if contact else None), contact=contact)
    ids = subject.identifiers
    if contact is not None:
        ids.update({contact.contact_id, *contact_actors(contact)})
        ids.update(a.split(":", 1)[1] for a in contact.actors if ":" in a)
        if contact.phone:
            ids.update({contact.phone, _address_hash("sms", contact.phone)})
    if subject.email:
        ids.update({subject.email, f"email:{subject.email}", _address_hash("email", subject.email)})
    return subject


def _section(table: str, item: dict[str, Any]) -> str:
    pk = str(item.get("pk", ""))
    if table == "activities":
        return "activities"
    if table == "contacts":
        return "identities" if pk.startswith("ACTOR#") else "profile_records"
    for prefix, name in (
        ("ENROL#", "program_runs"),
        ("WAIT#", "program_runs"),
        ("DELIVERY#", "sends"),
        ("SEND#", "sends"),
        ("MSG#", "sends"),
        ("CAP#", "sends"),
        ("SUPPRESS#", "suppressions"),
        ("SOFTBOUNCE#", "suppressions"),
        ("TASKS#", "tasks"),
    ):
        if pk.startswith(prefix):
            return name
    return "other_state"


def export_person(
    contacts: ContactStore,
    items: PersonalItems,
    schedules: PersonalSchedules,
    exports: Exports,
    request: dict[str, str],
) -> dict[str, Any]:
    """One JSON bundle of everything held about the person; returns where it is."""
    subject = find_subject(contacts, request)
    mentions = subject.matcher()
    found = items.find(mentions)
    bundle: dict[str, Any] = {
        "format": "nurture.personal-data/1",
        "generated_at": clock.iso(clock.now()),
        "profile": subject.contact.model_dump(mode="json") if subject.contact else None,
        "actors": contact_actors(subject.contact) if subject.contact else [],
        "consents": (
            {k: v.model_dump(mode="json") for k, v in subject.contact.consent.items()}
            if subject.contact
            else {}
        ),
        "identities": [],
        "profile_records": [],
        "activities": [],
        "program_runs": [],
        "sends": [],
        "suppressions": [],
        "tasks": [],
        "other_state": [],
        "schedules": schedules.find(mentions),
    }
    for table, rows in found.items():
        for row in rows:
            bundle[_section(table, row)].append(row)
    body = json.dumps(bundle, sort_keys=True, default=str).encode()
    key = f"{subject.folder()}{uuid.uuid4().hex}.json"
    url = exports.write(key, body)
    counts = {k: len(v) for k, v in bundle.items() if isinstance(v, list)}
    return {"url": url, "expires_in": 900, "found": subject.contact is not None, "counts": counts}


def erase_person(
    contacts: ContactStore,
    state: StateStore,
    workflows: Workflows,
    items: PersonalItems,
    schedules: PersonalSchedules,
    exports: Exports,
    lake: LakeStore,
    request: dict[str, str],
) -> dict[str, Any]:
    """Remove the person everywhere; leave a hashed suppression and an audit record."""
    subject = find_subject(contacts, request)
    mentions = subject.matcher()
    counts: dict[str, int] = {"executions_stopped": 0}
    if subject.contact_id:
        for enrolment in state.enrolments_of(subject.contact_id):
            if enrolment.execution_arn and workflows.stop(enrolment.execution_arn, STOP_CAUSE):
                counts["executions_stopped"] += 1
    counts["schedules_deleted"] = schedules.delete([s["name"] for s in schedules.find(mentions)])
    found = items.find(mentions)
    for table in ("state", "activities", "contacts"):  # the identity items last
        counts[f"{table}_items_deleted"] = items.delete(table, found.get(table, []))
    lake_counts = erase_from_lake(lake, subject.identifiers)
    counts["lake_rows_removed"] = lake_counts["rows_removed"]
    counts["exports_deleted"] = exports.delete_prefix(subject.folder())
    counts["old_versions_deleted"] = exports.purge_old_versions(
        [LAKE_PREFIX, PROFILES_PREFIX, subject.folder()], mentions
    )
    now = clock.iso(clock.now())
    hashes = []
    addresses = [("email", subject.email)]
    if subject.contact and subject.contact.phone:
        addresses.append(("sms", subject.contact.phone))
    for channel, address in addresses:
        if address:
            key_hash = erased_hash(channel, address)
            items.put_erased(key_hash, channel, now)
            hashes.append(key_hash)
    items.put_audit({"at": now, "hashes": hashes, "counts": counts})
    return {"erased": True, "hashes": hashes, "counts": counts}
