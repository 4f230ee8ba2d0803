"""What the admin API's domain needs from storage (adapters: nurture.adapters.admin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

# A DynamoDB key as plain values ({"pk": "...", "score": 12, ...}): where a page ends.
Key = dict[str, Any]


@dataclass(frozen=True)
class IndexQuery:
    """One query of a contact index: `index` (ByStage, ByGrade, ByAccount, ByName) where
    its hash key `hash_name` is `hash_value`; optionally the score between `low` and
    `high`, or the name starting with `prefix`."""

    index: str
    hash_name: str
    hash_value: str
    low: int | None = None
    high: int | None = None
    prefix: str | None = None
    descending: bool = True


class ContactIndex(Protocol):
    def query(
        self, query: IndexQuery, start: Key | None, limit: int
    ) -> tuple[list[tuple[str, Key]], Key | None]:
        """Up to `limit` (contact id, index key) in index order after `start`, and the key to
        go on from (None: the end)."""

    def profiles(self, contact_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The profile documents (as stored, extra fields included), by contact id."""

    def contact_for_email(self, email: str) -> str | None: ...


class Timeline(Protocol):
    def page(
        self, actors: list[str], before: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to `limit` activity documents of these actor keys, newest first, whose sort key
        (`occurred#message_id`) is below `before`; and whether there are more."""


class Runs(Protocol):
    def describe(self, execution_arn: str) -> dict[str, Any]:
        """{"status": RUNNING|SUCCEEDED|..., "version": str|None, "current_step": str|None}."""


class Suppressions(Protocol):
    def page(
        self, channel: str, start: Key | None, limit: int
    ) -> tuple[list[dict[str, Any]], Key | None]:
        """Suppression items of `channel`, newest first: {"pk", "reason", "at", "contact_id",
        "detail", "erased"}; and the key to go on from."""

    def get(self, pk: str) -> dict[str, Any] | None: ...

    def delete(self, pk: str, reason: str) -> bool:
        """Delete the item if it still has this reason; False when it changed or is gone."""

    def put_audit(self, record: dict[str, Any]) -> None:
        """The lift's audit record (no address: the hash, the reasons, who, when)."""


class ProgramFacts(Protocol):
    def versions(self, alias_arn: str) -> list[dict[str, Any]]:
        """The published versions of the program's machine: [{"version", "deployed_at"}]."""

    def stop_running(self, alias_arn: str, program_id: str, cause: str) -> int:
        """Stop every running execution of the program (and its resume machine)."""

    def cancel_resumes(self, program_id: str) -> int:
        """Delete the program's pending resume schedules."""
