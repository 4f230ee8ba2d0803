"""What an import needs from storage (DynamoDB: nurture.adapters.imports.DynamoImports)."""

from __future__ import annotations

from typing import Protocol

from nurture.contacts import Contact
from nurture.tracking.events import Activity


class ImportStore(Protocol):
    def load(self, emails: list[str]) -> dict[str, tuple[Contact, str | None]]:
        """The existing contacts of these addresses (consistent reads), with their version."""

    def blocks(self, addresses: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(channel, address) -> "erased" or the suppression reason, for those listed."""

    def create(self, contacts: list[Contact]) -> None:
        """New contacts and their address identity items, in bulk (BatchWriteItem)."""

    def update(self, changed: list[tuple[Contact, str | None]]) -> list[str]:
        """Write each changed contact unless it changed since read (its version); the
        ids of those that did (read again and merged again by the caller)."""

    def record(self, activities: list[Activity]) -> None:
        """Store the activities once each (by message id), in bulk."""
