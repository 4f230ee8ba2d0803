"""The budget for what senders may store on a contact's profile (README, "Bad input and limits").

The whole contact is one DynamoDB item (`CONTACT#id/PROFILE`, its JSON in `doc`), and an item
is at most 400 KB. Each call is bounded at ingest (32 KB, 32 levels), but every identify or
form post may add new trait keys, so without a budget a contact grows with every call until
its item can no longer be written, and the react function fails on every retry of the record
that would write it. `apply_fields` checks each field against this budget; a field over it is
not stored and named in a `contact.fields_dropped` activity (never an exception).

The figures, measured as the profile is stored (compact JSON, UTF-8, as pydantic writes it):
- MAX_CUSTOM_FIELDS = 200 custom field names on a contact. A CRM syncing its properties sends
  tens; hundreds mean keys made of data (a page path, a date or an id in the key), which would
  grow without end. Existing names can always be given a new value.
- MAX_FIELD_NAME_BYTES = 128: a name is a key to condition on, not data.
- MAX_FIELD_VALUE_BYTES = 8 KB: a form field's 2,000 characters in any script (at most 4 bytes
  each in UTF-8) fit; a profile field (first_name, ...) has the same bound.
- MAX_FIELDS_BYTES = 128 KB for all profile and custom fields together (names included): under
  a third of the item, leaving well over 250 KB for what the system keeps there (actor keys,
  consents, scores, tags, suppressions). A smaller value in place of a larger is always taken.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from pydantic_core import to_json

from nurture.contacts import PROFILE_FIELDS, Contact
from nurture.ports import ActivityStore
from nurture.runtime.records import record_activity

logger = logging.getLogger(__name__)

MAX_CUSTOM_FIELDS = 200
MAX_FIELD_NAME_BYTES = 128
MAX_FIELD_VALUE_BYTES = 8 * 1024
MAX_FIELDS_BYTES = 128 * 1024
# How many dropped field names one `contact.fields_dropped` activity lists (it counts them all).
LISTED_DROPS = 50


def stored_size(value: Any) -> int:
    """Bytes `value` takes in the stored profile (compact JSON, UTF-8, as pydantic writes it)."""
    return len(to_json(value, fallback=str))


def _entry(name: str, value: Any) -> int:
    return stored_size(name) + stored_size(value) + 2  # `:` and `,`


class FieldBudget:
    """What one contact may still take; kept up to date as `apply_fields` sets fields."""

    def __init__(self, contact: Contact):
        self.contact = contact
        self.used = stored_size(contact.fields) + sum(
            _entry(name, getattr(contact, name)) for name in PROFILE_FIELDS
        )

    def refusal(self, name: str, value: Any, profile: bool) -> str | None:
        """Why `name` = `value` may not be stored (a reason without the value), or None."""
        if not profile and stored_size(name) - 2 > MAX_FIELD_NAME_BYTES:
            return f"name_longer_than_{MAX_FIELD_NAME_BYTES}_bytes"
        if stored_size(value) > MAX_FIELD_VALUE_BYTES:
            return f"value_longer_than_{MAX_FIELD_VALUE_BYTES}_bytes"
        fields = self.contact.fields
        is_new = not profile and name not in fields
        if is_new and len(fields) >= MAX_CUSTOM_FIELDS:
            return f"more_than_{MAX_CUSTOM_FIELDS}_custom_fields"
        old = getattr(self.contact, name) if profile else fields.get(name)
        grows = _entry(name, value) - (0 if is_new else _entry(name, old))
        if grows > 0 and self.used + grows > MAX_FIELDS_BYTES:
            return f"fields_over_{MAX_FIELDS_BYTES // 1024}_kb"
        return None

    def taken(self, name: str, old: Any, value: Any, was_new: bool) -> None:
        self.used += _entry(name, value) - (0 if was_new else _entry(name, old))


def record_dropped(
    store: ActivityStore, contact_id: str, key: str, dropped: dict[str, str]
) -> None:
    """Record, once per `key`, the fields one update did not store: a `contact.fields_dropped`
    activity, and a warning log with the counts by reason (no names, no values)."""
    if record_activity(
        store, contact_id, "contact.fields_dropped", key, dropped_properties(dropped)
    ):
        logger.warning(
            "contact fields dropped: over the profile budget",
            extra={
                "contact_id": contact_id,
                "dropped": len(dropped),
                "reasons": dict(Counter(dropped.values())),
            },
        )


def dropped_properties(dropped: dict[str, str]) -> dict[str, Any]:
    """The `contact.fields_dropped` activity: how many fields, and the first names with the
    reason (names cut to the name budget; never the values)."""
    listed = []
    for name, reason in list(dropped.items())[:LISTED_DROPS]:
        cut = name.encode("utf-8", "surrogatepass")[:MAX_FIELD_NAME_BYTES]
        listed.append({"field": cut.decode("utf-8", "ignore"), "reason": reason})
    return {"count": len(dropped), "fields": listed}
