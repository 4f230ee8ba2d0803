"""What one checked row changes on its contact, with the operator's trust, never over what
the person said since:

- fields: a non-empty cell sets the field (an empty one leaves it); tags are added;
- consent only where the file states it, with its source (the import, the file, the row)
  and wording; a stated consent replaces a contact's record for the same channel:topic only
  when the file says when it was given and that is later than the record; a withdrawal
  (unsubscribe) is never turned back into a grant by an import, whatever the dates;
- a channel on the suppression list (bounce, complaint, STOP) gets no granted consent;
- an erased address is not imported at all (the hashed ERASED entry): the row is rejected;
- a contact made by the public key and never adopted (unproven) is not changed: the row is
  rejected (adopting it needs the identity rules of a trusted identify).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nurture.contacts import Consent, Contact
from nurture.ids import stable_id
from nurture.imports.rows import Problem, Row

CONTACT_ID_PARTS = "imported-contact"


@dataclass(frozen=True)
class Context:
    import_id: str
    file_name: str
    now: str  # ISO 8601 UTC

    def source(self, row: int) -> str:
        return f"import:{self.import_id} file:{self.file_name} row:{row}"


@dataclass(frozen=True)
class Blocks:
    """What the state table says of a row's addresses (`channel -> reason`)."""

    suppressed: dict[str, str] = field(default_factory=dict)
    erased: frozenset[str] = frozenset()  # channels whose address was erased


@dataclass
class Outcome:
    contact: Contact | None = None  # to write (None: nothing changes)
    created: bool = False
    fields: list[str] = field(default_factory=list)  # names of the fields changed
    consents: list[str] = field(default_factory=list)  # channel:topic keys recorded
    problems: list[Problem] = field(default_factory=list)  # rejected, or consent not recorded


def new_contact_id(email: str) -> str:
    """A new contact's id from its address: a re-run after a crash makes the same contact."""
    return stable_id(CONTACT_ID_PARTS, email)


def merge(existing: Contact | None, row: Row, blocks: Blocks, ctx: Context) -> Outcome:
    out = Outcome()
    if "email" in blocks.erased:
        out.problems.append(
            Problem(row.number, "email", "the address was erased (personal data): not imported")
        )
        return out
    if existing is not None and existing.created_trust == "public" and not existing.adopted_by:
        out.problems.append(
            Problem(
                row.number,
                "email",
                "the contact was made by the public key and is not "
                "proven: not changed by an import (a trusted identify adopts it)",
            )
        )
        return out
    if existing is not None and not _changes(existing, row):
        return out  # already as the file says (a second run): no copy, nothing to write
    contact = (
        existing.model_copy(deep=True)
        if existing is not None
        else Contact(
            contact_id=new_contact_id(row.email),
            created_at=ctx.now,
            updated_at=ctx.now,
            email=row.email,
            actors=[f"email:{row.email}"],
            created_trust="secret",
            created_by=f"import:{ctx.import_id}",
        )
    )
    out.created = existing is None
    for name, value in row.profile.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            out.fields.append(name)
    for name, value in row.custom.items():
        if contact.fields.get(name) != value:
            contact.fields[name] = value
            out.fields.append(f"fields.{name}")
    added = [t for t in row.tags if t not in contact.tags]
    if added:
        contact.tags = [*contact.tags, *added]
        out.fields.append("tags")
    for stated in row.consents:
        current = contact.consent.get(stated.key)
        if current is not None and current.status == stated.status:
            continue  # already so: nothing to record (a second run changes nothing)
        reason = _refused(contact, stated.key, stated.status, stated.at, blocks, ctx)
        if reason:
            out.problems.append(Problem(row.number, stated.key, reason))
            continue
        contact.consent[stated.key] = Consent(
            channel=stated.channel,  # type: ignore[arg-type]
            topic=stated.topic,
            status=stated.status,  # type: ignore[arg-type]
            at=stated.at or ctx.now,
            source=ctx.source(row.number),
            text=stated.wording,
        )
        out.consents.append(stated.key)
    if out.created or out.fields or out.consents:
        contact.updated_at = ctx.now
        out.contact = contact
    return out


def _refused(
    contact: Contact, key: str, status: str, at: str | None, blocks: Blocks, ctx: Context
) -> str | None:
    """Why a stated consent (another status than the record's) is not recorded, or None."""
    channel = key.split(":", 1)[0]
    if at is not None and at > ctx.now:
        return "consent time is in the future: not recorded"
    current = contact.consent.get(key)
    if status == "granted":
        if channel in blocks.erased:
            return "the address was erased: consent not recorded"
        if channel in blocks.suppressed or channel in contact.suppressed:
            why = blocks.suppressed.get(channel) or contact.suppressed[channel].reason
            return f"the address is suppressed ({why}): consent not recorded"
        if current is not None and current.status == "withdrawn":
            return "the contact withdrew this consent: an import never grants it again"
    if current is not None and (at is None or at <= current.at):
        return "the contact's own consent record is newer: kept"
    return None


def _changes(contact: Contact, row: Row) -> bool:
    """Whether the row may change the contact at all (a cheap look before a deep copy)."""
    return (
        any(getattr(contact, name) != value for name, value in row.profile.items())
        or any(contact.fields.get(name) != value for name, value in row.custom.items())
        or any(tag not in contact.tags for tag in row.tags)
        or any(
            (contact.consent.get(c.key) is None or contact.consent[c.key].status != c.status)
            for c in row.consents
        )
    )
