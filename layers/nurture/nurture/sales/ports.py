"""What the sales desk stores, and the stores it needs besides nurture.ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from nurture.ports import Task


@dataclass(frozen=True)
class Handoff:
    """A lead's hand-off to sales: the latest MQL, whom it went to and what they answered.

    status: notified (waiting for the owner) | accepted | recycled | disqualified
    """

    contact_id: str
    owner: str
    status: str
    mql_id: str  # the `lead.mql` (or `lead.reactivated`) activity that handed the lead over
    mql_at: str
    answered_at: str | None = None
    first_touch_at: str | None = None
    recycle_until: str | None = None
    reason: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)

    def with_(self, **changes: Any) -> Handoff:
        return replace(self, **changes)


@dataclass(frozen=True)
class ActiveContact:
    """A per-owner marker: the contact did something meaningful since the owner's last digest."""

    owner: str
    contact_id: str
    first_at: str
    last_at: str


@dataclass(frozen=True)
class CrmDelivery:
    """One CRM webhook delivery, retried until it is accepted or gives up."""

    delivery_id: str
    contact_id: str
    event: str
    url: str
    body: str
    status: str = "pending"  # pending | sent | failed
    attempts: int = 0
    next_at: int = 0  # epoch seconds of the next attempt
    last_error: str = ""


class SalesStore(Protocol):
    # --- hand-offs -------------------------------------------------------------------
    def get_handoff(self, contact_id: str) -> Handoff | None: ...

    def update_handoff(
        self, contact_id: str, change: Callable[[Handoff | None], Handoff | None]
    ) -> Handoff | None:
        """Read-modify-write with optimistic locking; `change` returns None for no change.
        Returns the stored hand-off after the change."""

    # --- round robin -----------------------------------------------------------------
    def round_robin_pick(self, team: str, size: int, pick_key: str) -> int:
        """The next position (0..size-1) in the team's rotation, once per `pick_key`: a
        retry with the same key gets the same position and does not move the rotation."""

    # --- per-owner activity markers (the digest's index) -------------------------------
    def mark_active(self, owner: str, contact_id: str, at: str) -> None: ...

    def active_contacts(self, owner: str) -> list[ActiveContact]: ...

    def clear_active(self, marker: ActiveContact) -> None:
        """Remove the marker unless newer activity moved it on since it was read."""

    def last_digest(self, owner: str) -> str | None:
        """When the owner's last digest went out (ISO), if one ever did."""

    def set_last_digest(self, owner: str, at: str) -> None: ...

    # --- tasks -------------------------------------------------------------------------
    def complete_task(self, assignee: str, task_id: str, at: str) -> Task | None:
        """Mark a task done (idempotent); None when there is no such task."""

    # --- CRM deliveries ------------------------------------------------------------------
    def claim_delivery(self, delivery: CrmDelivery) -> bool:
        """Store a new delivery; False when one with this id exists (a retried event)."""

    def save_delivery(self, delivery: CrmDelivery) -> None: ...

    def due_deliveries(self, now: int, limit: int = 100) -> list[CrmDelivery]: ...


class ScoreReader(Protocol):
    def explain(self, contact_id: str, at: Any) -> dict[str, Any]:
        """{score, grade, reasons: [{rule, points, at, ...}]} newest reason first."""


class AccountReader(Protocol):
    def account_of(self, contact: Any) -> Any | None: ...


class HttpPoster(Protocol):
    def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        """POST and return the HTTP status; raises OSError for network failures."""
