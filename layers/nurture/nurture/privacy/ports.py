"""What the privacy service needs from storage (adapters: nurture.adapters.privacy)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# An item as plain JSON values, and which table it came from.
Item = dict[str, Any]
Matcher = Callable[[str], bool]


class PersonalItems(Protocol):
    def find(self, mentions: Matcher) -> dict[str, list[Item]]:
        """Every item (per table: contacts, activities, state) whose JSON mentions the person."""

    def delete(self, table: str, items: list[Item]) -> int:
        """Delete these items (by their keys); returns how many were deleted."""

    def put_erased(self, key_hash: str, channel: str, at: str) -> None:
        """The hashed suppression an erase leaves behind."""

    def put_audit(self, record: dict[str, Any]) -> None:
        """The erase's audit record (no personal data)."""


class PersonalSchedules(Protocol):
    def find(self, mentions: Matcher) -> list[Item]:
        """Schedules (name, description, target input) that mention the person."""

    def delete(self, names: list[str]) -> int: ...


class Exports(Protocol):
    def write(self, key: str, body: bytes) -> str:
        """Store the bundle; returns a short-lived signed URL to it."""

    def delete_prefix(self, prefix: str) -> int: ...

    def purge_old_versions(self, prefixes: list[str], mentions: Matcher) -> int:
        """Delete noncurrent object versions under `prefixes` that mention the person."""
