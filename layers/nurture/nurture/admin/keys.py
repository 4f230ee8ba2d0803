"""The index keys a contact's profile item carries for the admin search (ContactsTable's
ByStage, ByGrade, ByAccount and ByName indexes). No imports: every function that writes a
profile imports this."""

from __future__ import annotations

import unicodedata

NAME_PREFIX_CHARS = 2  # a name search needs at least this many characters


def name_key(first: str | None, last: str | None) -> str:
    """The searchable form of a name: "first last", case- and accent-folded, one space."""
    text = " ".join(p for p in (first or "", last or "") if p)
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(plain.split())[:200]


def search_keys(
    stage: str, grade: str | None, account_id: str | None, first: str | None, last: str | None
) -> dict[str, str]:
    """The string index attributes of a profile item (the score is already one, `N`)."""
    keys = {"stage": stage}
    if grade:
        keys["grade"] = grade
    if account_id:
        keys["account_id"] = account_id
    name = name_key(first, last)
    if name:
        keys["name_key"] = name
        keys["name_prefix"] = name[:NAME_PREFIX_CHARS]
    return keys
