"""The storage and provider interfaces delivery needs, beyond nurture.ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from nurture.ports import ActivityStore

if TYPE_CHECKING:  # annotations only: importing these ports builds neither model (#9)
    from nurture.contacts import Contact
    from nurture.tracking.events import Activity


@dataclass(frozen=True)
class OutgoingSms:
    to: str  # E.164
    text: str
    sender_id: str | None
    transactional: bool


class EngagementActivities(ActivityStore, Protocol):
    def put_once(self, activity: Activity) -> bool:
        """Store an activity whose key every copy shares (actor, time and message id fixed by
        the message itself); False when it was already stored."""


class Texter(Protocol):
    def send(self, sms: OutgoingSms) -> str:
        """Send and return the provider's message id; raises DeliveryThrottled/Rejected."""


@dataclass(frozen=True)
class LedgerEntry:
    """What is known about one send (execution + step)."""

    status: str | None  # None (nothing yet) | claimed | sent | failed
    claimed_at: int = 0  # epoch seconds
    message_id: str = ""
    reason: str = ""
    first_deferred_at: int = 0


@dataclass(frozen=True)
class SuppressionRecord:
    channel: str
    reason: str  # hard_bounce | complaint | soft_bounces | sms_stop | manual
    at: str
    contact_id: str = ""
    detail: str = ""


@dataclass(frozen=True)
class CapDecision:
    allowed: bool
    release_at: int | None = None  # epoch seconds when the oldest counted send leaves the window
    counted: list[tuple[int, str]] = field(default_factory=list)


class DeliveryStore(Protocol):
    # --- the send ledger: a step sends once, even when retried ---------------------------
    def ledger_get(self, send_id: str) -> LedgerEntry | None: ...

    def ledger_note_deferred(self, send_id: str, now: int) -> None: ...

    def ledger_claim(self, send_id: str, now: int, take_over_from: int | None = None) -> bool:
        """Claim a send; with take_over_from, only a stale claim made at that time is taken."""

    def ledger_sent(self, send_id: str, message_id: str) -> None: ...

    def ledger_failed(self, send_id: str, reason: str) -> None: ...

    def ledger_release(self, send_id: str) -> None: ...

    def ledger_confirm(self, send_id: str, message_id: str) -> None:
        """The provider reports it accepted the message (an SES Send event)."""

    # --- suppression ------------------------------------------------------------------
    def suppression_for(self, channel: str, address: str) -> SuppressionRecord | None: ...

    def suppress(self, address: str, record: SuppressionRecord) -> bool:
        """Suppress an address; False when it already was."""

    def unsuppress(self, channel: str, address: str, only_reason: str) -> bool: ...

    def soft_bounces(self, address: str, event_id: str, at: int, window_seconds: int) -> int:
        """Record one soft bounce (once per event) and count those within the window."""

    # --- frequency caps ----------------------------------------------------------------
    def reserve_cap(
        self, contact_id: str, channel: str, send_id: str, now: int, window_seconds: int, limit: int
    ) -> CapDecision: ...

    def release_cap(self, contact_id: str, channel: str, send_id: str) -> None: ...

    # --- per program and step counters ---------------------------------------------------
    def count(
        self, program_id: str, step_id: str, counters: dict[str, int], once_key: str | None
    ) -> bool:
        """ADD counters atomically; with once_key, only the first call for that key counts."""

    # --- contacts -----------------------------------------------------------------------
    def update_contact(self, contact_id: str, change: Callable[[Contact], bool]) -> Contact | None:
        """Read-modify-write with optimistic locking; `change` returns False for no change."""

    def remember_phone(self, phone: str, contact_id: str) -> None: ...

    def contacts_for_phone(self, phone: str) -> list[str]: ...
