"""Who may be sent what: consent per channel and topic, and changing it.

Rules (documented in the README's delivery section):
- A service message (about something the contact bought) needs no consent.
- A marketing message on channel C about topic T needs consent "C:T" granted. When the
  contact has no record for "C:T", a granted generic "C:marketing" consent covers it: the
  generic checkbox ("send me marketing email") means every topic. A record for the topic
  itself always decides, so unsubscribing from one topic works under a generic consent.
- "pending" (double opt-in not yet confirmed) and "withdrawn" never count.
- Suppression (hard bounce, complaint, SMS STOP) stops every message on that channel,
  service ones too: the address cannot or must not receive anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the functions get a contact: its module is loaded by then (#9)
    from nurture.contacts import Contact

GENERIC_TOPIC = "marketing"
CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str = ""  # why not: no_consent, consent_pending, consent_withdrawn


def marketing_permission(contact: Contact, channel: str, topic: str) -> Permission:
    record = contact.consent.get(f"{channel}:{topic}")
    if record is None and topic != GENERIC_TOPIC:
        record = contact.consent.get(f"{channel}:{GENERIC_TOPIC}")
    if record is None:
        return Permission(False, "no_consent")
    if record.status == "granted":
        return Permission(True)
    return Permission(False, f"consent_{record.status}")


def permission(contact: Contact, channel: str, purpose: str, topic: str) -> Permission:
    if purpose == "service":
        return Permission(True)
    return marketing_permission(contact, channel, topic)


def withdraw_all(contact: Contact, channel: str | None, at: str, source: str) -> list[str]:
    """Withdraw every marketing consent on `channel` (None: every channel); the changed keys."""
    from nurture.contacts import Consent

    changed = []
    for ch in CHANNELS if channel is None else (channel,):
        keys = {k for k in contact.consent if k.startswith(f"{ch}:")} | {f"{ch}:{GENERIC_TOPIC}"}
        for key in sorted(keys):
            current = contact.consent.get(key)
            if current is not None and current.status == "withdrawn":
                continue
            topic = key.split(":", 1)[1]
            contact.consent[key] = Consent.model_validate(
                {
                    "channel": ch,
                    "topic": topic,
                    "status": "withdrawn",
                    "at": at,
                    "source": source,
                    "text": current.text if current else "",
                }
            )
            changed.append(key)
    return changed


def set_preferences(
    contact: Contact, wanted: dict[str, bool], at: str, source: str, wording: dict[str, str]
) -> list[str]:
    """Make each "channel:topic" in `wanted` allowed or not; the keys that changed."""
    from nurture.contacts import Consent

    changed = []
    for key, want in sorted(wanted.items()):
        channel, _, topic = key.partition(":")
        if channel not in CHANNELS or not topic:
            continue
        if marketing_permission(contact, channel, topic).allowed == want:
            continue
        contact.consent[key] = Consent.model_validate(
            {
                "channel": channel,
                "topic": topic,
                "status": "granted" if want else "withdrawn",
                "at": at,
                "source": source,
                "text": wording.get(key, ""),
            }
        )
        changed.append(key)
    return changed


def confirm_pending(contact: Contact, keys: list[str], at: str) -> list[str]:
    """Double opt-in: the pending consents among `keys` become granted; the keys changed."""
    changed = []
    for key in keys:
        record = contact.consent.get(key)
        if record is not None and record.status == "pending":
            contact.consent[key] = record.model_copy(update={"status": "granted", "at": at})
            changed.append(key)
    return changed
