"""Suppressions in the console: the list (newest first, per channel) with reason and time,
and lifting one.

A lift needs a reason; a complaint is lifted only with `override_complaint: true` (the
person told their mail provider this was spam: mailing them again needs a deliberate
decision). It deletes the suppression item, clears the contact's suppressed channel, and is
recorded twice: a `contact.unsuppressed` activity on the contact's timeline (reason, the
suppression's old reason, by "admin") and an audit item (StateTable `AUDIT#suppression-lift`:
the suppression's id, reasons and time, no address).

An erased person's entry (`ERASED#...`, left by a GDPR erase) is listed but can never be
lifted here: it holds only a hash, it is what keeps the person from being mailed again, and
lifting it would undo their erasure request (409). Ids are opaque: the item's key, which
holds a hash of the address, never the address.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from nurture import clock
from nurture.admin.errors import AdminError, decode_cursor, encode_cursor, parse
from nurture.admin.ports import ContactIndex, Suppressions
from nurture.contacts import Contact
from nurture.ports import ActivityStore, ContactStore
from nurture.runtime.records import record_activity

CHANNELS = ("email", "sms")
PAGE = 50


class LiftRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    suppression_id: str = Field(min_length=1, max_length=300)
    reason: str = Field(min_length=3, max_length=500)
    override_complaint: bool = False


def _id(pk: str) -> str:
    return encode_cursor({"s": pk})


def _pk(suppression_id: str) -> str:
    value = decode_cursor(suppression_id, "suppression_id").get("s")
    if not isinstance(value, str) or not value.startswith(("SUPPRESS#", "ERASED#")):
        raise AdminError(400, "not a suppression id this API gave out", "suppression_id")
    return value


def listing(
    store: Suppressions, index: ContactIndex, channel: str | None, cursor: str | None
) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise AdminError(400, f"channel must be one of {', '.join(CHANNELS)}", "channel")
    start = None
    if cursor:
        start = decode_cursor(cursor).get("k")
        if (
            not isinstance(start, dict)
            or set(start) != {"pk", "sk", "listing", "listed_at"}
            or start["listing"] != f"SUPPRESS#{channel}"
            or not all(isinstance(v, str) for v in start.values())
        ):
            raise AdminError(400, "the cursor is from another list", "cursor")
    rows, last = store.page(channel, start, PAGE)
    contact_ids = [str(r["contact_id"]) for r in rows if r.get("contact_id")]
    docs = index.profiles(contact_ids) if contact_ids else {}
    out = []
    for row in rows:
        doc = docs.get(str(row.get("contact_id")), {})
        address = doc.get("email") if channel == "email" else doc.get("phone")
        out.append(
            {
                "suppression_id": _id(row["pk"]),
                "channel": channel,
                "address": None if row["erased"] else address,
                "contact_id": row.get("contact_id"),
                "reason": row["reason"],
                "detail": row.get("detail", ""),
                "at": row["at"],
                "source": "erasure" if row["erased"] else "delivery",
                "liftable": not row["erased"],
            }
        )
    next_cursor = encode_cursor({"k": last}) if last else None
    return {"suppressions": out, "next_cursor": next_cursor}


def lift(
    store: Suppressions,
    contacts: ContactStore,
    activities: ActivityStore,
    body: Any,
) -> dict[str, Any]:
    if isinstance(body, dict) and not body.get("reason"):
        raise AdminError(400, "a reason is required to lift a suppression", "reason")
    request = parse(LiftRequest, body)
    pk = _pk(request.suppression_id)
    found = store.get(pk)
    if found is None:
        raise AdminError(404, "no such suppression (already lifted?)", "suppression_id")
    if found["erased"]:
        raise AdminError(
            409,
            "an erased person's suppression cannot be lifted: it is what honours their erasure",
            "suppression_id",
        )
    if found["reason"] == "complaint" and not request.override_complaint:
        raise AdminError(
            409,
            "this address complained (marked a message as spam); lifting needs"
            " override_complaint: true",
            "override_complaint",
        )
    if not store.delete(pk, found["reason"]):
        raise AdminError(409, "the suppression changed meanwhile; read it again", "suppression_id")
    channel = pk.split("#")[1]
    now = clock.iso(clock.now())
    contact_id = found.get("contact_id")
    if contact_id:
        _clear_contact(contacts, str(contact_id), channel, pk)
        record_activity(
            activities,
            str(contact_id),
            "contact.unsuppressed",
            f"{pk}#{found['at']}",
            {
                "channel": channel,
                "reason": request.reason,
                "previous_reason": found["reason"],
                "override_complaint": request.override_complaint,
                "by": "admin",
            },
        )
    store.put_audit(
        {
            "at": now,
            "suppression": pk,
            "channel": channel,
            "previous_reason": found["reason"],
            "suppressed_at": found["at"],
            "reason": request.reason,
            "override_complaint": request.override_complaint,
            "contact_id": contact_id,
        }
    )
    return {"lifted": True, "suppression_id": request.suppression_id, "channel": channel}


def _clear_contact(contacts: ContactStore, contact_id: str, channel: str, pk: str) -> None:
    def change(contact: Contact) -> dict[str, Any] | None:
        if channel not in contact.suppressed:
            return None
        del contact.suppressed[channel]
        return {"unsuppressed": channel}

    with contextlib.suppress(KeyError):  # the contact is gone: the item was all there was
        contacts.apply_once(contact_id, f"unsuppress#{pk}#{clock.iso(clock.now())}", change)
