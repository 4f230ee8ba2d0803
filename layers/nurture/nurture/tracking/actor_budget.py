"""The budget for a contact's actor keys (README, "Bad input and limits").

Every browser, user id and address joined to a contact is one key in `Contact.actors`, kept
in the contact's one DynamoDB item (at most 400 KB). Keys are added by trusted identify and
alias calls and by signed email clicks: a newsletter forwarded to a list, each reader
clicking its links, joins a browser per reader. Without a bound, about 5,000 browsers fill
the item and every later write of the contact fails. The figures:

- MAX_ACTORS = 500 keys: a person has a few devices, a few browsers each, renewed now and then;
  hundreds mean a shared or forwarded identity, whose history is no longer one person's.
- MAX_ACTORS_BYTES = 64 KB of keys as stored (compact JSON): ids are up to 200 characters,
  so long ids hit this before the count. Together with the fields' 128 KB
  (`nurture.runtime.field_budget`) that leaves over 200 KB for consents, scores and the rest.

A key over the budget is not joined at all (neither listed nor linked): its activity stays
anonymous, as if it had never been named. The contact gets a `contact.actors_dropped`
activity naming the keys and the reason, and the react function logs a warning with the
count only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic_core import to_json

logger = logging.getLogger(__name__)

MAX_ACTORS = 500
MAX_ACTORS_BYTES = 64 * 1024
# How many dropped keys one `contact.actors_dropped` activity lists (it counts them all).
LISTED_DROPS = 50
DROPPED = "contact.actors_dropped"


def _size(key: str) -> int:
    return len(to_json(key)) + 1  # the key and its comma


def admit(actors: list[str], new: list[str]) -> tuple[list[str], dict[str, str]]:
    """Which of `new` the contact with `actors` may take: (admitted, dropped: key -> reason).
    Keys it has already are admitted (they cost nothing)."""
    count, used = len(actors), len(to_json(actors))
    admitted: list[str] = []
    dropped: dict[str, str] = {}
    for key in new:
        if key in actors or key in admitted:
            admitted.append(key)
        elif count + 1 > MAX_ACTORS:
            dropped[key] = f"more_than_{MAX_ACTORS}_actors"
        elif used + _size(key) > MAX_ACTORS_BYTES:
            dropped[key] = f"actors_over_{MAX_ACTORS_BYTES // 1024}_kb"
        else:
            admitted.append(key)
            count, used = count + 1, used + _size(key)
    return admitted, dropped


def dropped_properties(dropped: dict[str, str]) -> dict[str, Any]:
    listed = [{"actor": k, "reason": r} for k, r in list(dropped.items())[:LISTED_DROPS]]
    return {"count": len(dropped), "actors": listed}


def record_dropped(
    record: Callable[[str, str, str, dict[str, Any]], object],
    contact_id: str,
    key: str,
    dropped: dict[str, str],
) -> None:
    """Record the keys one call could not join (`record` is runtime.records.record_activity
    bound to the activity store: (contact id, name, key, properties)); a warning log with
    the count only (actor keys hold ids and addresses)."""
    if not dropped:
        return
    if record(contact_id, DROPPED, key, dropped_properties(dropped)):
        logger.warning(
            "contact actors dropped: over the actor budget",
            extra={"contact_id": contact_id, "dropped": len(dropped)},
        )
